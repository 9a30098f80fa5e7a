package probes

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
)

// Children born while traced are traced too (TRACEFORK), and quitting
// detaches them as well as the parent.
func TestSignalsDetachesChildren(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	sh := exec.Command("/bin/sh", "-c", "read x; sleep 30 & echo $!; wait")
	in, _ := sh.StdinPipe()
	out, _ := sh.StdoutPipe()
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sh.Process.Kill(); sh.Wait() }()
	r := traceSignals(t, schema.SignalsConfig{PIDs: []int{sh.Process.Pid}})
	r.waitFor(t, "attach", attached)
	in.Write([]byte("go\n"))
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	child, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatalf("child pid %q", buf[:n])
	}
	defer func() {
		if p, err := os.FindProcess(child); err == nil {
			p.Kill()
		}
	}()
	r.waitFor(t, "the fork", func(evs []event.Event) bool {
		for _, ev := range evs {
			if f, ok := event.As[schema.Fork](ev); ok && f.ChildPID == child {
				return true
			}
		}
		return false
	})
	testenv.Eventually(t, 3*time.Second, "the child is traced", func() bool { _, tp := procState(t, child); return tp != 0 })
	r.stop(t)
	untraced(t, sh.Process.Pid)
	untraced(t, child)
	if st, _ := procState(t, child); st != 'S' && st != 'R' {
		t.Errorf("child state %c after detach", st)
	}
}

// The wording, with the real strace as the other tracer.
func TestSignalsAlreadyTracedByStrace(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace not installed")
	}
	tg := startTarget(t, "count")
	st := exec.Command("strace", "-e", "trace=none", "-p", strconv.Itoa(tg.pid), "-o", "/dev/null")
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { st.Process.Kill(); st.Wait() }()
	testenv.Eventually(t, 3*time.Second, "strace attached", func() bool { _, tp := procState(t, tg.pid); return tp != 0 })
	cfg := DefaultConfig()
	cfg.Signals.PIDs = []int{tg.pid}
	want := "pid " + strconv.Itoa(tg.pid) + " is already traced by pid " + strconv.Itoa(st.Process.Pid) + " (strace)"
	if err := (&signalsProbe{cfg: cfg}).Check(); err == nil || err.Error() != want {
		t.Errorf("Check: %v, want %q", err, want)
	}
}
