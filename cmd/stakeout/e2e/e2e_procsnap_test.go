//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/sigtarget"
	"github.com/stakeout/stakeout/internal/testenv"
)

// Issue 14's end-to-end test of the automatic process snapshot:
// `stakeout snapshot --duration 5s` with every probe, while a process
// receives two SIGHUPs 3 ms apart, reports signal.burst naming both pids
// (the receiver and the sender), and the recording holds a
// process_snapshot of the receiver taken within 1 s of the finding, which
// `events` prints, `report` lists under the finding and `handoff` adds to
// its evidence. It passes no --signals: with no --pid or --proc the
// signals probe follows the whole host by default.
func TestBurstTakesAProcessSnapshot(t *testing.T) {
	share(t, timing)
	testenv.NeedRoot(t, "tracefs (the signals probe's host mode)")
	cmd := exec.Command(os.Args[0])
	cmd.Env = sigtarget.Environ("count")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tg := &sigTarget{pid: cmd.Process.Pid, lines: bufio.NewScanner(out)}
	tg.expect(t, "ready")
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", tg.pid))

	file := filepath.Join(t.TempDir(), "burst.stk")
	snap := exec.Command(binPath, "snapshot", "--duration", "5s", "--format", "json", "-o", file)
	var doc strings.Builder
	snap.Stdout, snap.Stderr = &doc, os.Stderr
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.Process.Kill(); snap.Wait() })
	hostInstanceReady(t, snap.Process.Pid)
	ack := func() error { tg.expect(t, "HUP 1"); return nil }
	gap, err := sigtarget.SendPair(tg.pid, syscall.SIGHUP, 3*time.Millisecond, ack)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the two SIGHUPs went %v apart", gap)
	tg.expect(t, "HUP 2")
	if err := snap.Wait(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}

	var d struct {
		Findings []struct {
			Finding string `json:"finding"`
			Key     string `json:"key"`
			Summary string `json:"summary"`
			Data    struct {
				PID     int `json:"pid"`
				Senders []struct {
					PID int `json:"pid"`
				} `json:"senders"`
			} `json:"data"`
		} `json:"findings"`
		Processes []struct {
			Finding string `json:"finding"`
			PID     int    `json:"pid"`
		} `json:"process_snapshots"`
	}
	if err := json.Unmarshal([]byte(doc.String()), &d); err != nil {
		t.Fatalf("%v\n%s", err, doc.String())
	}
	key, summary := "", ""
	for _, f := range d.Findings {
		if f.Finding == "signal.burst" && f.Data.PID == tg.pid {
			if len(f.Data.Senders) != 1 || f.Data.Senders[0].PID != os.Getpid() {
				t.Errorf("burst senders %+v, want the test (%d)", f.Data.Senders, os.Getpid())
			}
			key, summary = f.Key, f.Summary
		}
	}
	if key == "" {
		t.Fatalf("no signal.burst of pid %d:\n%s", tg.pid, doc.String())
	}
	listed := false
	for _, p := range d.Processes {
		listed = listed || (p.Finding == key && p.PID == tg.pid)
	}
	if !listed {
		t.Errorf("the JSON report lists no snapshot of %d under %q: %+v", tg.pid, key, d.Processes)
	}

	// The finding's time and the snapshot's, from the recording.
	raised := time.Time{}
	for _, l := range rawEventLines(t, file, "--kind", "finding") {
		var f struct {
			Time  time.Time `json:"time"`
			Key   string    `json:"key"`
			State string    `json:"state"`
		}
		json.Unmarshal([]byte(l), &f)
		if f.Key == key && f.State == "" {
			raised = f.Time
		}
	}
	var got []snapLine
	for _, l := range rawEventLines(t, file, "--kind", "process_snapshot") {
		var one snapLine
		if err := json.Unmarshal([]byte(l), &one); err != nil {
			t.Fatal(err)
		}
		if one.PID == tg.pid {
			got = append(got, one)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d process_snapshots of %d in the recording, want 1", len(got), tg.pid)
	}
	s := got[0]
	t.Logf("snapshot taken %v after the finding", s.Time.Sub(raised))
	if after := s.Time.Sub(raised); raised.IsZero() || after < 0 || after > time.Second {
		t.Errorf("snapshot at %v, finding raised at %v: want within 1 s after", s.Time, raised)
	}
	if s.Probe != "process" || s.Finding != key || s.Comm != strings.TrimSpace(string(comm)) || len(s.Threads) == 0 ||
		len(s.Threads[0].Stack) == 0 || s.Threads[0].TID != tg.pid {
		t.Errorf("snapshot %+v", s)
	}
	if _, ok := s.Limits["core"]; !ok {
		t.Errorf("snapshot without the core limit: %v", s.Limits)
	}

	// report (text) lists it on the line after the finding.
	r := run(t, nil, "report", file)
	if r.code != 0 {
		t.Fatalf("report: %d %s", r.code, r.stderr)
	}
	i := strings.Index(r.stdout, summary)
	if i < 0 {
		t.Fatalf("report lacks the burst:\n%s", r.stdout)
	}
	next := strings.SplitN(r.stdout[i:], "\n", 3)[1]
	t.Logf("report: %s", next)
	if !strings.Contains(next, "process at ") || !strings.Contains(next, strconv.Itoa(tg.pid)+" (") {
		t.Errorf("report's line after the burst: %q", next)
	}
	// handoff adds it to the burst's evidence.
	h := run(t, nil, "handoff", file)
	if h.code != 0 {
		t.Fatalf("handoff: %d %s", h.code, h.stderr)
	}
	if !strings.Contains(h.stdout, fmt.Sprintf("Evidence: process %d (", tg.pid)) {
		t.Errorf("handoff has no process evidence for %d:\n%s", tg.pid, h.stdout)
	}
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 3") // the target runs on
}

// snapLine is what the test reads of a process_snapshot event.
type snapLine struct {
	Time    time.Time `json:"time"`
	Probe   string    `json:"probe"`
	PID     int       `json:"pid"`
	Comm    string    `json:"comm"`
	Finding string    `json:"finding"`
	Threads []struct {
		TID   int      `json:"tid"`
		Stack []string `json:"stack"`
	} `json:"threads"`
	Limits map[string]struct {
		Soft int64 `json:"soft"`
	} `json:"limits"`
}

// rawEventLines is `stakeout events FILE ARGS…`, line by line.
func rawEventLines(t *testing.T, file string, args ...string) []string {
	t.Helper()
	r := run(t, nil, append([]string{"events", file}, args...)...)
	if r.code != 0 {
		t.Fatalf("events: %d %s", r.code, r.stderr)
	}
	return strings.Split(strings.TrimSpace(r.stdout), "\n")
}
