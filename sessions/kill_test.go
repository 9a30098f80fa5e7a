package sessions

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

const killChildEnv = "STAKEOUT_SESSIONS_KILL_CHILD"

// killChild is the body of the re-executed test binary: record an event
// every 10 ms with the production flusher until killed.
func killChild(path string) {
	w, err := Create(path, testHeader(), WriterOptions{})
	if err != nil {
		os.Exit(3)
	}
	for seq := 0; ; seq++ {
		w.Write(event.New(time.Now(), "seq", &ioSample{Devices: []ioDevice{{Device: "sda", ReadBytesPS: seq}}}))
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKilledMidWrite SIGKILLs a recording process and checks that every
// event older than the flush period survives.
func TestKilledMidWrite(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	if testing.Short() {
		t.Skip("takes 2.5 s")
	}
	path := filepath.Join(t.TempDir(), "killed.stk")
	killedAt := recordAndKill(t, "TestKilledMidWrite", killChildEnv, path, 2500*time.Millisecond)

	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if d := r.Damage(); d != nil {
		t.Logf("damage after kill: %v", d) // allowed: the kill may land mid-write
	}
	evs, err := readAll(t, r, time.Time{})
	if err != nil && asDamage(err) == nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatal("nothing survived the kill")
	}
	for i, ev := range evs {
		if got := ev.Body.(*ioSample).Devices[0].ReadBytesPS; got != i {
			t.Fatalf("event %d has sequence %d: a gap", i, got)
		}
	}
	gap := killedAt.Sub(evs[len(evs)-1].Time)
	t.Logf("%d events survived; the newest was %v older than the kill", len(evs), gap.Round(time.Millisecond))
	// One flush period, plus generous scheduling slack for a loaded CI
	// machine: a missing flusher would show as a gap of the whole run.
	if gap > 2*time.Second {
		t.Fatalf("newest surviving event is %v older than the kill; want about 1 s", gap)
	}
}

// recordAndKill runs test (which records to path when env names it) in a
// child process and SIGKILLs it after d; it returns when the kill was sent.
func recordAndKill(t *testing.T, test, env, path string, d time.Duration) time.Time {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	killedAt := time.Now()
	cmd.Process.Signal(syscall.SIGKILL)
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("recording child ended by itself (%v): %s", err, out.Bytes())
	}
	return killedAt
}
