package ptrace

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// traceOptions follow every new thread and process and report execs. Never
// PTRACE_O_EXITKILL: if stakeout dies, its tracees must live on.
const traceOptions = unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEFORK |
	unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACEEXEC

// Thread is the tracing thread: an OS thread that one goroutine holds for
// good. Every ptrace request and every wait for a tracee's status is a
// method of it, and Run hands it only to the function it runs on that
// thread. Calling a method from any other goroutine is a programming error;
// it panics where the kernel's answer shows it (see offThread).
type Thread struct {
	tid int // the OS thread's id, the tracer the kernel knows
}

// Run calls f on a new goroutine locked to its OS thread, with that thread,
// and returns what f returns. The goroutine never unlocks the thread, so it
// ends with f: had it been handed back to Go's scheduler, other goroutines
// would run on the thread that holds the tracees, and when it ends, the
// kernel detaches whatever is still traced, and the tracees run on. Run
// costs one goroutine start; requests made in f are plain system calls.
func Run(f func(th *Thread) error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- f(&Thread{tid: unix.Gettid()})
	}()
	return <-done
}

// TID is the tracing thread's id: what /proc/PID/status says as TracerPid
// of a thread it traces.
func (th *Thread) TID() int { return th.tid }

// offThread panics when the calling goroutine is not on the tracing
// thread. It costs a gettid, so the requests call it only where that
// mistake shows: ESRCH (a tracee of another thread is not ours to ask
// about), ECHILD or nothing to report from a wait (no tracee of this thread
// to wait for), and before a seize, which from another thread would
// succeed and make that thread the tracer.
func (th *Thread) offThread(what string) {
	if tid := unix.Gettid(); tid != th.tid {
		panic(fmt.Sprintf("ptrace: %s from thread %d, not from the tracing thread %d", what, tid, th.tid))
	}
}

func (th *Thread) request(req, tid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	return th.errno(e, req)
}

func (th *Thread) errno(e unix.Errno, req int) error {
	if e == 0 {
		return nil
	}
	if e == unix.ESRCH {
		th.offThread(fmt.Sprintf("ptrace request %d", req))
	}
	return e
}

// Seize attaches to one thread without stopping it, with options.
// (x/sys's PtraceSeize takes no options; PTRACE_SEIZE accepts them in data.)
func (th *Thread) Seize(tid int) error {
	th.offThread("PTRACE_SEIZE")
	return th.request(unix.PTRACE_SEIZE, tid, 0, traceOptions)
}

// Cont resumes a stopped tracee, delivering sig (0 for none). It is the
// only way the probe resumes: never PTRACE_SYSCALL, so there are no
// syscall stops and a syscall-heavy process runs at full speed.
func (th *Thread) Cont(tid, sig int) error {
	return th.request(unix.PTRACE_CONT, tid, 0, uintptr(sig))
}

// Listen leaves a tracee in its group-stop (SIGSTOP, SIGTSTP, …) but lets
// it report the next event, so it stays stopped until SIGCONT exactly as it
// would untraced. PTRACE_CONT here would wrongly resume it.
func (th *Thread) Listen(tid int) error { return th.request(unix.PTRACE_LISTEN, tid, 0, 0) }

// Interrupt asks a seized tracee to stop (PTRACE_EVENT_STOP), so that it
// can be detached; unlike SIGSTOP it changes nothing the process sees.
func (th *Thread) Interrupt(tid int) error { return th.request(unix.PTRACE_INTERRUPT, tid, 0, 0) }

// Detach releases a stopped tracee, delivering sig (0 for none).
func (th *Thread) Detach(tid, sig int) error {
	return th.request(unix.PTRACE_DETACH, tid, 0, uintptr(sig))
}

// GetSiginfo copies the siginfo of the signal a tracee is stopped on.
func (th *Thread) GetSiginfo(tid int, out *Siginfo) error {
	// The pointer conversion sits in the Syscall6 call itself, as the unsafe
	// rules require, so the buffer is pinned for the call.
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(tid), 0, uintptr(unsafe.Pointer(out)), 0, 0)
	return th.errno(e, unix.PTRACE_GETSIGINFO)
}

// EventMsg reads the event message: the new tid for a fork/clone event,
// the former tid for an exec event.
func (th *Thread) EventMsg(tid int) (int, error) {
	var msg uint
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETEVENTMSG, uintptr(tid), 0, uintptr(unsafe.Pointer(&msg)), 0, 0)
	return int(msg), th.errno(e, unix.PTRACE_GETEVENTMSG)
}

// WaitAny reaps the next pending status of a tracee of this thread, without
// blocking. __WNOTHREAD limits it to this thread's tracees and children, so
// it never steals the exit status of a child another part of stakeout started
// with os/exec. tid is 0 when there is nothing to report.
func (th *Thread) WaitAny() (tid int, ws unix.WaitStatus, err error) {
	tid, err = unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL|unix.WNOTHREAD, nil)
	if err == unix.ECHILD || tid == 0 {
		th.offThread("wait4")
	}
	return tid, ws, err
}

// WaitOne reaps the pending status of one tracee, tid, without blocking,
// and leaves every other tracee's to the tracer's loop: detaching one
// process must not take the stops of the others. got is 0 when tid has
// nothing to report; ECHILD says it is gone and was reaped already.
func (th *Thread) WaitOne(tid int) (got int, ws unix.WaitStatus, err error) {
	got, err = unix.Wait4(tid, &ws, unix.WNOHANG|unix.WALL|unix.WNOTHREAD, nil)
	if err == unix.ECHILD {
		th.offThread("wait4")
	}
	return got, ws, err
}

// Wait sleeps until a tracee or the thread's waker has a status to report
// (WUNTRACED: the waker's stop is one). The kernel wakes this thread
// directly when a tracee stops, which is what makes a traced signal cheap
// (see Waker).
func (th *Thread) Wait() (tid int, ws unix.WaitStatus, err error) {
	for {
		tid, err = unix.Wait4(-1, &ws, unix.WALL|unix.WNOTHREAD|unix.WUNTRACED, nil)
		if err == unix.ECHILD {
			th.offThread("wait4")
		}
		if err != unix.EINTR {
			return tid, ws, err
		}
	}
}
