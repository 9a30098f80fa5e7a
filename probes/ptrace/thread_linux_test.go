package ptrace

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/testenv"
	"golang.org/x/sys/unix"
)

// sleeper starts a process that only sleeps, killed and reaped at the end.
// os/exec's Wait waits for its exit only, so it never takes the stops the
// tracing thread waits for.
func sleeper(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// status reads one field of /proc/PID/status.
func status(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}

// The requests work from the thread Run gives: seize (the kernel then names
// that thread as the tracer), interrupt, wait for the stop, detach (the
// process runs on, traced by nobody).
func TestRequestsFromTheTracingThread(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	pid := sleeper(t)
	err := Run(func(th *Thread) error {
		if th.TID() != unix.Gettid() {
			return fmt.Errorf("TID %d on thread %d", th.TID(), unix.Gettid())
		}
		if err := th.Seize(pid); err != nil {
			return fmt.Errorf("seize: %w", err)
		}
		if tp := status(t, pid, "TracerPid"); tp != strconv.Itoa(th.TID()) {
			return fmt.Errorf("TracerPid %s, want the tracing thread %d", tp, th.TID())
		}
		if err := th.Interrupt(pid); err != nil {
			return fmt.Errorf("interrupt: %w", err)
		}
		// The next stop is the interrupt's, or one that came first and took
		// its place: the end of the exec it was seized in the middle of.
		tid, ws, err := th.Wait()
		ev := int(uint32(ws)>>16) & 0xff
		if err != nil || tid != pid || !ws.Stopped() || ev != unix.PTRACE_EVENT_STOP && ev != unix.PTRACE_EVENT_EXEC {
			return fmt.Errorf("wait = %d %#x %v, want %d in PTRACE_EVENT_STOP (or _EXEC)", tid, uint32(ws), err, pid)
		}
		if tid, _, err := th.WaitAny(); tid != 0 || err != nil {
			return fmt.Errorf("WaitAny = %d, %v with nothing pending, want 0, nil", tid, err)
		}
		return th.Detach(pid, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	if tp := status(t, pid, "TracerPid"); tp != "0" {
		t.Errorf("TracerPid %s after detach", tp)
	}
	if st := status(t, pid, "State"); strings.HasPrefix(st, "t") || strings.HasPrefix(st, "T") {
		t.Errorf("state %q after detach: left stopped", st)
	}
}

// WaitOne takes the stop of the one tracee asked about and leaves the
// others' to the tracer's loop: detaching one process from the signals
// pane must not swallow a stop of another tracee (its signal would be
// lost, or the tracee left stopped).
func TestWaitOneLeavesOtherTracees(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	a, b := sleeper(t), sleeper(t)
	err := Run(func(th *Thread) error {
		for _, pid := range []int{a, b} {
			if err := th.Seize(pid); err != nil {
				return fmt.Errorf("seize %d: %w", pid, err)
			}
			defer th.Detach(pid, 0)
		}
		if err := th.Interrupt(a); err != nil {
			return fmt.Errorf("interrupt %d: %w", a, err)
		}
		if err := th.Interrupt(b); err != nil {
			return fmt.Errorf("interrupt %d: %w", b, err)
		}
		var gotB bool
		for range 5000 {
			tid, ws, err := th.WaitOne(b)
			if err != nil {
				return fmt.Errorf("WaitOne(%d): %w", b, err)
			}
			if tid != 0 {
				if tid != b || !ws.Stopped() {
					return fmt.Errorf("WaitOne(%d) = %d %#x, want %d stopped", b, tid, uint32(ws), b)
				}
				gotB = true
				break
			}
			time.Sleep(time.Millisecond)
		}
		if !gotB {
			return fmt.Errorf("WaitOne(%d) never saw its stop", b)
		}
		if tid, _, err := th.WaitOne(b); tid != 0 || err != nil {
			return fmt.Errorf("WaitOne(%d) again = %d, %v, want 0, nil: its stop was taken", b, tid, err)
		}
		// a's stop is still there for the loop's wait.
		tid, ws, err := th.Wait()
		if err != nil || tid != a || !ws.Stopped() {
			return fmt.Errorf("Wait = %d %#x %v, want %d's stop, left by WaitOne", tid, uint32(ws), err, a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{a, b} {
		if tp := status(t, pid, "TracerPid"); tp != "0" {
			t.Errorf("pid %d: TracerPid %s after detach", pid, tp)
		}
		if st := status(t, pid, "State"); strings.HasPrefix(st, "t") || strings.HasPrefix(st, "T") {
			t.Errorf("pid %d: state %q after detach: left stopped", pid, st)
		}
	}
}

// A request about a tid that is not traced is ESRCH from the tracing
// thread, an error like any other.
func TestRequestAboutNoTraceeIsAnError(t *testing.T) {
	err := Run(func(th *Thread) error { return th.Cont(1<<30, 0) })
	if !errors.Is(err, unix.ESRCH) {
		t.Errorf("Cont(no such tid) = %v, want ESRCH", err)
	}
}

// A Thread leaked out of Run is refused: a request panics instead of
// failing quietly (a tracee left stopped), and a seize panics before it
// could make another thread the tracer.
func TestRequestsOffTheTracingThreadPanic(t *testing.T) {
	testenv.NeedRoot(t, "ptrace")
	var leaked *Thread
	Run(func(th *Thread) error { leaked = th; return nil })
	pid := sleeper(t)
	for name, req := range map[string]func() error{
		"Cont":    func() error { return leaked.Cont(pid, 0) },
		"Seize":   func() error { return leaked.Seize(pid) },
		"WaitAny": func() error { _, _, err := leaked.WaitAny(); return err },
		"WaitOne": func() error { _, _, err := leaked.WaitOne(1); return err }, // init: no child of any thread here
	} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, "not from the tracing thread") {
					t.Errorf("%s off the tracing thread: recovered %v, want a panic naming it", name, r)
				}
			}()
			err := req()
			t.Errorf("%s off the tracing thread returned %v", name, err)
		}()
	}
	if tp := status(t, pid, "TracerPid"); tp != "0" {
		t.Errorf("TracerPid %s: a seize off the tracing thread attached", tp)
	}
}

// The waker's stop ends the tracing thread's Wait; Resume lets it be
// stopped again; Stop kills and reaps it.
func TestWakerEndsWait(t *testing.T) {
	err := Run(func(th *Thread) error {
		w, err := th.StartWaker()
		if err != nil {
			return err
		}
		defer w.Stop()
		for i := range 2 {
			w.Wake()
			tid, ws, err := th.Wait()
			if err != nil || tid != w.Pid() || !ws.Stopped() || ws.StopSignal() != unix.SIGSTOP {
				return fmt.Errorf("wake %d: wait = %d %#x %v, want the waker %d stopped", i, tid, uint32(ws), err, w.Pid())
			}
			w.Resume()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// No waker (a nil *Waker, what the tracer keeps when it could not start
// another) signals nothing. The tracer used to keep a waker of pid -1 and
// no pidfd there, and stopping it sent kill(-1, SIGKILL).
func TestNoWakerDoesNothing(t *testing.T) {
	var w *Waker
	if w.Pid() != -1 {
		t.Errorf("Pid of no waker = %d, want -1 (never a tracee's tid)", w.Pid())
	}
	w.Wake()
	w.Resume()
	w.Stop()
}
