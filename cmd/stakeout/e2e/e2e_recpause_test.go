//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/sessions"
)

// recordedKinds reads a recording, finished or still being written, and
// returns its recording events and the time of every disk_usage sample.
func recordedKinds(t *testing.T, path string) (recs []event.Recording, samples []time.Time) {
	t.Helper()
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	it := r.Iter(time.Time{})
	for {
		ev, ok := it.Next()
		if !ok {
			break
		}
		switch ev.Kind {
		case event.KindRecording:
			recs = append(recs, *ev.Body.(*event.Recording))
		case "disk_usage":
			samples = append(samples, ev.Time)
		}
	}
	return recs, samples
}

// TestRecordingPausesWhileItsFilesystemIsFull: `stakeout snapshot` records
// onto a 64 MiB ext4 that the test fills to below the recorder's floor: the
// recording pauses (record.paused with the -o hint in the report; the file
// stays readable with what came before); once the test frees the space it
// resumes, with the gap explained by a resumed event.
func TestRecordingPausesWhileItsFilesystemIsFull(t *testing.T) {
	share(t)
	mnt, _ := testenv.LoopFS(t, 64, 5)
	file := filepath.Join(mnt, "x.stk")
	cmd := exec.Command(binPath, "snapshot", "--duration", "6s", "--format", "json",
		"--probes", "diskfill", "--mount", mnt, "-o", file)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen within 5 s; stderr: %s", what, errb.String())
			}
		}
	}
	waitFor("a first recorded sample", func() bool {
		_, err := os.Stat(file)
		if err != nil {
			return false
		}
		_, s := recordedKinds(t, file)
		return len(s) > 0
	})

	// Leave 2 MiB: under the 5% floor (about 3 MiB) but over 1%, so this is
	// the floor's pause, not a disk.filling one.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	avail := int64(st.Bavail) * st.Bsize
	if err := os.WriteFile(filler, make([]byte, avail-2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var recs []event.Recording
	var before []time.Time
	waitFor("the pause", func() bool {
		recs, before = recordedKinds(t, file)
		return len(recs) > 0
	})
	if r := recs[0]; r.State != "paused" || !strings.Contains(r.Reason, "nearly full") ||
		r.Hint != "record elsewhere with -o /other/fs/file.stk" {
		t.Fatalf("first recording event %+v", r)
	}
	time.Sleep(time.Second) // a sample or so is dropped
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("snapshot: %v: %s", err, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("snapshot did not end")
	}

	recs, samples := recordedKinds(t, file)
	if len(recs) != 2 || recs[1].State != "resumed" || recs[1].EventsDropped == nil || *recs[1].EventsDropped == 0 {
		t.Fatalf("recording events %+v", recs)
	}
	after := 0
	for _, s := range samples {
		if s.After(before[len(before)-1]) {
			after++
		}
	}
	t.Logf("%d samples before the pause, %d after the resume; paused %.1f s, %d events dropped",
		len(before), after, *recs[1].PausedS, *recs[1].EventsDropped)
	if after == 0 {
		t.Fatal("nothing recorded after the resume")
	}
	var doc struct {
		File     string `json:"file"`
		Findings []struct {
			Finding  string         `json:"finding"`
			Severity string         `json:"severity"`
			Summary  string         `json:"summary"`
			Data     map[string]any `json:"data"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	found := false
	for _, f := range doc.Findings {
		if f.Finding == "record.paused" {
			found = f.Severity == "warn" && f.Data["file"] == file && strings.Contains(f.Summary, "-o /other/fs/file.stk")
			t.Logf("%s: %s", f.Severity, f.Summary)
		}
	}
	if !found {
		t.Fatalf("no record.paused in the report: %s", out.String())
	}
}
