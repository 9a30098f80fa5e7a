package probes

import (
	"errors"
	"strconv"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// ptrace event numbers in bits 16-23 of a stop status.
const (
	evFork  = unix.PTRACE_EVENT_FORK
	evVfork = unix.PTRACE_EVENT_VFORK
	evClone = unix.PTRACE_EVENT_CLONE
	evExec  = unix.PTRACE_EVENT_EXEC
	evStop  = unix.PTRACE_EVENT_STOP
)

func stopEvent(ws unix.WaitStatus) int { return int(uint32(ws)>>16) & 0xff }

// isStopSignal: the signals whose default action is a group-stop.
func isStopSignal(sig unix.Signal) bool {
	return sig == unix.SIGSTOP || sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU
}

func (t *tracer) handle(tid int, ws unix.WaitStatus) {
	if ws.Exited() || ws.Signaled() {
		t.gone(tid, ws)
		return
	}
	if !ws.Stopped() {
		return
	}
	if _, ok := t.threads[tid]; !ok {
		t.adopt(tid)
	}
	sig := ws.StopSignal()
	switch stopEvent(ws) {
	case 0: // signal-delivery-stop
		t.onSignal(tid, int(sig))
	case evStop:
		// A group-stop (stop signal) must stay stopped: LISTEN. Otherwise
		// it is an interrupt or a new tracee's first stop: go on.
		if isStopSignal(sig) {
			t.th.Listen(tid)
		} else {
			t.th.Cont(tid, 0)
		}
	case evFork, evVfork, evClone:
		// Rare, so read what they need while the tracee is still stopped:
		// GETEVENTMSG only works in the stop, and comm is still the old one.
		t.onNew(tid, stopEvent(ws))
		t.th.Cont(tid, 0)
	case evExec:
		t.onExec(tid)
		t.th.Cont(tid, 0)
	default:
		t.th.Cont(tid, 0)
	}
}

// onSignal handles a signal-delivery-stop: read the siginfo, re-inject the
// signal at once, and only then describe it.
func (t *tracer) onSignal(tid, sig int) {
	at := t.now()
	infoErr := t.th.GetSiginfo(tid, &t.sigbuf)
	t.th.Cont(tid, sig)
	if infoErr != nil {
		return // the thread was killed meanwhile
	}
	pid := t.threads[tid]
	s := &schema.Signal{PID: pid, TID: tid, Signal: schema.SignalName(sig), Signo: sig}
	if t.delivery {
		s.Source = schema.SourcePtrace
	}
	proc := t.procs[pid]
	if proc != nil {
		s.Comm = proc.comm
	}
	t.sigbuf.Decode(s)
	if s.SenderPID > 0 {
		if s.SenderPID == pid && proc != nil && !proc.otherNS {
			s.SenderComm = proc.comm // a process signalling itself: no need to ask /proc
		} else if proc != nil && proc.otherNS {
			s.SenderComm = "unknown: pid is in the target's pid namespace"
		} else {
			s.SenderComm = t.cfg.senderComm(s.SenderPID)
			if si := t.senders.lookup(s.SenderPID); si != nil {
				si.apply(s)
			}
		}
	}
	t.emit(event.New(at, signalsName, s))
}

// adopt records a tracee we have not seen yet: a child or thread the
// kernel attached for us whose first stop came before its parent's event.
func (t *tracer) adopt(tid int) {
	tgid, err := t.cfg.statusInt(tid, "Tgid")
	if err != nil {
		tgid = tid
	}
	t.threads[tid] = tgid
	if t.procs[tgid] == nil {
		comm, _ := t.cfg.readComm(tgid)
		p := &tracedProc{comm: comm, otherNS: t.cfg.pidNS(strconv.Itoa(tgid)) != t.selfNS}
		if st, err := t.cfg.readStat(tgid); err == nil && t.procs[st.ppid] != nil {
			p.parent = st.ppid
		}
		t.procs[tgid] = p
	}
}

// onNew handles a fork, vfork or clone event in the parent.
func (t *tracer) onNew(tid, ev int) {
	child, err := t.th.EventMsg(tid)
	if err != nil || child <= 0 {
		return
	}
	parent := t.threads[tid]
	tgid := child
	if ev == evClone {
		if g, err := t.cfg.statusInt(child, "Tgid"); err == nil {
			tgid = g
		}
	}
	t.threads[child] = tgid
	if tgid == parent {
		return // a new thread
	}
	pp := t.procs[parent]
	comm := ""
	if pp != nil {
		comm = pp.comm
	}
	if t.procs[tgid] == nil {
		t.procs[tgid] = &tracedProc{comm: comm, otherNS: pp != nil && pp.otherNS, parent: parent}
	}
	how := map[int]string{evFork: "fork", evVfork: "vfork", evClone: "clone"}[ev]
	t.send(&schema.Fork{PID: parent, Comm: comm, ChildPID: child, How: how})
}

// onExec handles PTRACE_EVENT_EXEC, reported under the thread-group id. The
// other threads of the process are gone now; the kernel reports them as
// exited, and they are forgotten here.
func (t *tracer) onExec(pid int) {
	proc := t.procs[pid]
	if proc == nil {
		proc = &tracedProc{}
		t.procs[pid] = proc
	}
	for tid, g := range t.threads {
		if g == pid && tid != pid {
			delete(t.threads, tid)
		}
	}
	t.threads[pid] = pid
	old := proc.comm
	proc.comm, _ = t.cfg.readComm(pid)
	t.send(&schema.Exec{PID: pid, OldComm: old, Comm: proc.comm, Filename: t.cfg.exePath(pid)})
}

// gone handles a reaped tracee; the process ends when its leader is reaped
// (the kernel reports the leader last).
func (t *tracer) gone(tid int, ws unix.WaitStatus) {
	pid, ok := t.threads[tid]
	if !ok {
		return
	}
	delete(t.threads, tid)
	if tid != pid {
		return
	}
	e := &schema.Exit{PID: pid}
	if p := t.procs[pid]; p != nil {
		e.Comm = p.comm
	}
	delete(t.procs, pid)
	if ws.Exited() {
		code := ws.ExitStatus()
		e.ExitCode, e.Status = &code, "exited "+strconv.Itoa(code)
	} else {
		e.Signal, e.Core = schema.SignalName(int(ws.Signal())), ws.CoreDump()
		e.Status = "killed by " + e.Signal
		if e.Core {
			e.Status += " (core dumped)"
		}
	}
	t.send(e)
}

// detachAll interrupts every thread and detaches each at its next stop,
// passing on a signal it was stopped for. A group-stopped thread goes back
// to its group-stop (state T), as if never traced. Children born meanwhile
// are detached at their first stop. Gives up after detachTimeout (a thread
// stuck in uninterruptible sleep); the kernel detaches those when we exit.
func (t *tracer) detachAll() {
	const detachTimeout = 3 * time.Second
	pending := map[int]bool{}
	for tid := range t.threads {
		if err := t.th.Interrupt(tid); err == nil {
			pending[tid] = true
		}
	}
	counts := map[int]int{}
	for _, pid := range t.threads {
		counts[pid]++
	}
	deadline := time.Now().Add(detachTimeout)
	for len(pending) > 0 && time.Now().Before(deadline) {
		tid, ws, err := t.th.WaitAny()
		if errors.Is(err, unix.ECHILD) {
			break
		}
		if err != nil || tid <= 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		if tid == t.waker.Pid() {
			continue
		}
		if ws.Exited() || ws.Signaled() {
			delete(pending, tid)
			t.gone(tid, ws)
			continue
		}
		if !ws.Stopped() {
			continue
		}
		sig := 0
		switch ev := stopEvent(ws); ev {
		case 0:
			sig = int(ws.StopSignal()) // a signal on its way: deliver it
		case evFork, evVfork, evClone:
			if child, err := t.th.EventMsg(tid); err == nil && child > 0 {
				pending[child] = true
			}
		}
		t.th.Detach(tid, sig)
		delete(pending, tid)
	}
	for pid, p := range t.procs {
		t.send(&schema.Trace{PID: pid, Comm: p.comm, State: schema.TraceDetached, Threads: counts[pid]})
	}
	clear(t.threads)
	clear(t.procs)
}
