package ptrace

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The tracer sleeps in a blocking wait4 on its own thread, because the
// kernel wakes that thread directly when a tracee stops: measured here,
// that adds about 40 µs to a signal, against about 250 µs when the wake-up
// goes through Go's SIGCHLD relay and a channel. A blocking wait4 can't
// watch a context, so the tracer also has a child of its own, the waker: a
// copy of this executable that only sleeps. Stopping the waker (SIGSTOP)
// ends the tracer's wait4 with WUNTRACED; the tracer then looks at its
// context and --proc, and continues the waker (SIGCONT).

// wakerEnv turns a re-executed copy of the binary into a waker, before main
// (and before the init of any package that imports this one).
const wakerEnv = "STAKEOUT_PTRACE_WAKER"

func init() {
	if os.Getenv(wakerEnv) == "1" {
		for {
			unix.Pause() // until the tracer's SIGKILL, or its death (Pdeathsig)
		}
	}
}

// Waker is the tracing thread's child that the thread can be woken through.
// A nil *Waker is none: its methods do nothing and its Pid is -1.
type Waker struct {
	pid   int
	pidfd int // signals go through a pidfd, so a reused pid is never hit
}

// StartWaker starts a waker. It is a method of the Thread because the waker
// must be the tracing thread's child: wait4(__WNOTHREAD) sees it then, and
// Pdeathsig kills it when that thread ends.
func (th *Thread) StartWaker() (*Waker, error) {
	th.offThread("starting the waker")
	env := append(os.Environ(), wakerEnv+"=1")
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"stakeout-waker"}, &syscall.ProcAttr{
		Env: env,
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return nil, err
	}
	w := &Waker{pid: pid, pidfd: -1}
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		w.pidfd = fd
	}
	return w, nil
}

// Pid is the waker's process id, so the tracer can tell its stops from a
// tracee's.
func (w *Waker) Pid() int {
	if w == nil {
		return -1
	}
	return w.pid
}

func (w *Waker) signal(sig unix.Signal) {
	if w == nil {
		return
	}
	if w.pidfd >= 0 {
		unix.PidfdSendSignal(w.pidfd, sig, nil, 0)
		return
	}
	unix.Kill(w.pid, sig)
}

// Wake ends the tracing thread's Wait; safe from any goroutine.
func (w *Waker) Wake() { w.signal(unix.SIGSTOP) }

// Resume lets the waker be stopped again.
func (w *Waker) Resume() { w.signal(unix.SIGCONT) }

// Stop kills and reaps the waker.
func (w *Waker) Stop() {
	if w == nil {
		return
	}
	w.signal(unix.SIGKILL)
	var ws unix.WaitStatus
	unix.Wait4(w.pid, &ws, unix.WALL, nil)
	if w.pidfd >= 0 {
		unix.Close(w.pidfd)
	}
}
