package probes

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/event"
)

// Children born while traced are traced too (TRACEFORK), and quitting
// detaches them as well as the parent.
func TestSignalsDetachesChildren(t *testing.T) {
	needRoot(t)
	sh := exec.Command("/bin/sh", "-c", "read x; sleep 30 & echo $!; wait")
	in, _ := sh.StdinPipe()
	out, _ := sh.StdoutPipe()
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sh.Process.Kill(); sh.Wait() }()
	r := traceSignals(t, SignalsConfig{PIDs: []int{sh.Process.Pid}})
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
			if f, ok := AsFork(ev); ok && f.ChildPID == child {
				return true
			}
		}
		return false
	})
	eventually(t, "the child is traced", func() bool { _, tp := procState(t, child); return tp != 0 })
	r.stop(t)
	untraced(t, sh.Process.Pid)
	untraced(t, child)
	if st, _ := procState(t, child); st != 'S' && st != 'R' {
		t.Errorf("child state %c after detach", st)
	}
}
