package probes

// Tiny wrappers over ptrace(2) for the signals probe. Every one of them must
// be called from the one goroutine that seized the tracees, locked to its OS
// thread: the kernel's tracer is a thread, not a process, and it refuses
// requests from any other thread with ESRCH.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// traceOptions follow every new thread and process and report execs. Never
// PTRACE_O_EXITKILL: if stakeout dies, its tracees must live on.
const traceOptions = unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEFORK |
	unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACEEXEC

func ptrace(req int, tid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	return errnoErr(e)
}

// ptraceSeize attaches to one thread without stopping it, with options.
// (x/sys's PtraceSeize takes no options; PTRACE_SEIZE accepts them in data.)
func ptraceSeize(tid int) error { return ptrace(unix.PTRACE_SEIZE, tid, 0, traceOptions) }

// ptraceCont resumes a stopped tracee, delivering sig (0 for none). It is the
// only way the probe resumes: never PTRACE_SYSCALL, so there are no
// syscall stops and a syscall-heavy process runs at full speed.
func ptraceCont(tid, sig int) error { return ptrace(unix.PTRACE_CONT, tid, 0, uintptr(sig)) }

// ptraceListen leaves a tracee in its group-stop (SIGSTOP, SIGTSTP, …) but
// lets it report the next event, so it stays stopped until SIGCONT exactly
// as it would untraced. PTRACE_CONT here would wrongly resume it.
func ptraceListen(tid int) error { return ptrace(unix.PTRACE_LISTEN, tid, 0, 0) }

// ptraceInterrupt asks a seized tracee to stop (PTRACE_EVENT_STOP), so that
// it can be detached; unlike SIGSTOP it changes nothing the process sees.
func ptraceInterrupt(tid int) error { return ptrace(unix.PTRACE_INTERRUPT, tid, 0, 0) }

// ptraceDetach releases a stopped tracee, delivering sig (0 for none).
func ptraceDetach(tid, sig int) error { return ptrace(unix.PTRACE_DETACH, tid, 0, uintptr(sig)) }

// ptraceGetSiginfo copies the siginfo of the signal a tracee is stopped on.
func ptraceGetSiginfo(tid int, out *[siginfoSize]byte) error {
	// The pointer conversion sits in the Syscall6 call itself, as the unsafe
	// rules require, so the buffer is pinned for the call.
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(tid), 0, uintptr(unsafe.Pointer(out)), 0, 0)
	return errnoErr(e)
}

// ptraceEventMsg reads the event message: the new tid for a fork/clone
// event, the former tid for an exec event.
func ptraceEventMsg(tid int) (int, error) {
	var msg uint
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETEVENTMSG, uintptr(tid), 0, uintptr(unsafe.Pointer(&msg)), 0, 0)
	return int(msg), errnoErr(e)
}

func errnoErr(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

// waitAny reaps the next pending status of a tracee of this thread, without
// blocking. __WNOTHREAD limits it to this thread's tracees and children, so
// it never steals the exit status of a child another part of stakeout started
// with os/exec. tid is 0 when there is nothing to report.
func waitAny() (tid int, ws unix.WaitStatus, err error) {
	tid, err = unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL|unix.WNOTHREAD, nil)
	return tid, ws, err
}

// isStopSignal: the signals whose default action is a group-stop.
func isStopSignal(sig unix.Signal) bool {
	return sig == unix.SIGSTOP || sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU
}
