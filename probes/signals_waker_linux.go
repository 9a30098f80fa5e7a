package probes

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

// wakerEnv turns a re-executed copy of the binary into a waker, before main.
const wakerEnv = "STAKEOUT_PTRACE_WAKER"

func init() {
	if os.Getenv(wakerEnv) == "1" {
		for {
			unix.Pause() // until the tracer's SIGKILL, or its death (Pdeathsig)
		}
	}
}

// waker is the tracer's child that it can be woken through.
type waker struct {
	pid   int
	pidfd int // signals go through a pidfd, so a reused pid is never hit
}

// startWaker must run on the tracer's locked thread: the waker is then that
// thread's child, which wait4(__WNOTHREAD) sees, and Pdeathsig kills it when
// that thread ends.
func startWaker() (*waker, error) {
	env := append(os.Environ(), wakerEnv+"=1")
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"stakeout-waker"}, &syscall.ProcAttr{
		Env: env,
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return nil, err
	}
	w := &waker{pid: pid, pidfd: -1}
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		w.pidfd = fd
	}
	return w, nil
}

func (w *waker) signal(sig unix.Signal) {
	if w.pidfd >= 0 {
		unix.PidfdSendSignal(w.pidfd, sig, nil, 0)
		return
	}
	unix.Kill(w.pid, sig)
}

// wake ends the tracer's wait4; safe from any goroutine.
func (w *waker) wake() { w.signal(unix.SIGSTOP) }

// resume lets the waker be stopped again.
func (w *waker) resume() { w.signal(unix.SIGCONT) }

// stop kills and reaps the waker; tracer thread only.
func (w *waker) stop() {
	w.signal(unix.SIGKILL)
	var ws unix.WaitStatus
	unix.Wait4(w.pid, &ws, unix.WALL, nil)
	if w.pidfd >= 0 {
		unix.Close(w.pidfd)
	}
}

// waitBlocking sleeps until a tracee or the waker has a status to report.
func waitBlocking() (tid int, ws unix.WaitStatus, err error) {
	for {
		tid, err = unix.Wait4(-1, &ws, unix.WALL|unix.WNOTHREAD|unix.WUNTRACED, nil)
		if err != unix.EINTR {
			return tid, ws, err
		}
	}
}
