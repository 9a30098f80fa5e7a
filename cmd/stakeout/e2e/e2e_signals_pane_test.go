//go:build linux

package e2e

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/internal/testenv"
)

// The live TUI on a real pseudo-terminal, tracing a process: in the
// signals pane ↑ selects its row, d detaches it and a attaches it again,
// and it runs all along, handling its signals. Then kill -9 of stakeout:
// the kernel detaches, and the process runs on.
func TestSignalsAttachFromPaneInLiveTUI(t *testing.T) {
	share(t)
	tg := startSigTarget(t)
	p := startOnPTY(t, 120, 30, "--no-record", "--probes", "signals", "--pid", strconv.Itoa(tg.pid))
	testenv.Eventually(t, 5*time.Second, "the target traced", func() bool { n, _ := traced(tg.pid); return n != 0 })
	syscall.Kill(tg.pid, syscall.SIGUSR1)
	tg.expect(t, "USR1 1")
	p.waitShown("SIGUSR1")
	p.master.Write([]byte("\x1b[A")) // ↑: the newest row, the SIGUSR1 to the target
	p.waitShown("a/d attach/detach")
	p.master.Write([]byte("d"))
	testenv.Eventually(t, 5*time.Second, "detached from the pane", func() bool { n, st := traced(tg.pid); return n == 0 && st != 't' && st != 'T' })
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 1")
	p.master.Write([]byte("a"))
	testenv.Eventually(t, 5*time.Second, "attached again from the pane", func() bool { n, _ := traced(tg.pid); return n != 0 })
	if _, st := traced(tg.pid); st == 't' || st == 'T' {
		t.Fatalf("attaching stopped the target: state %c", st)
	}
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 2")
	p.waitShown("attached")
	p.cmd.Process.Kill()
	p.cmd.Wait()
	testenv.Eventually(t, 5*time.Second, "the kernel detached", func() bool { n, st := traced(tg.pid); return n == 0 && st != 't' && st != 'T' })
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 3")
	if t.Failed() {
		t.Logf("screen:\n%s", ansi.Strip(p.written()))
	}
}
