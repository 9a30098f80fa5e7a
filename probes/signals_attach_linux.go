package probes

// Attaching ptrace to one process, and detaching from it, while the probe
// runs: a and d on a process in the signals pane. In ptrace mode the
// request goes to the tracer that follows --pid and --proc; in host mode a
// tracer is started for the first one. Each request is served on the
// tracer's own thread (every ptrace call must be), which the waker wakes.
// The harmlessness rules of signals_linux.go hold as for --pid: seized,
// never stopped, no PTRACE_O_EXITKILL; detaching passes on a signal a
// thread was stopped for and leaves a stopped process stopped.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stakeout/stakeout/probes/ptrace"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// traceReq asks the tracer to attach to pid, or detach from it.
type traceReq struct {
	pid    int
	attach bool
	done   chan error // buffered: the tracer never waits on the asker
}

// requestTimeout bounds how long a request waits for the tracer, which
// answers between two tracee stops.
const requestTimeout = 5 * time.Second

var _ Tracer = (*signalsProbe)(nil)

// Attach traces pid (a process or one of its threads), its threads and the
// children it starts from now on, with ptrace, while the probe runs. The
// probe records a trace event, attached or failed.
func (p *signalsProbe) Attach(ctx context.Context, pid int) error { return p.request(ctx, pid, true) }

// Detach stops tracing pid and the traced children it started, and
// records a trace event, detached.
func (p *signalsProbe) Detach(ctx context.Context, pid int) error { return p.request(ctx, pid, false) }

// running and stopped bracket Run: requests are taken only in between.
// t is the ptrace mode's tracer (nil in host mode, which starts one on
// demand). stopped ends a host mode's tracer (through cancel) and waits
// until it has detached from everything.
func (p *signalsProbe) running(ctx context.Context, emit Emit, t *tracer) {
	p.mu.Lock()
	p.ctx, p.emit, p.tr = ctx, emit, t
	p.mu.Unlock()
}

func (p *signalsProbe) stopped(cancel context.CancelFunc) {
	p.mu.Lock()
	t := p.tr
	p.ctx, p.emit, p.tr = nil, nil, nil
	p.mu.Unlock()
	cancel()
	if t != nil {
		<-t.done
	}
}

func (p *signalsProbe) request(ctx context.Context, pid int, attach bool) error {
	if pid <= 0 {
		return fmt.Errorf("pid %d: no such process", pid)
	}
	t, err := p.tracerFor(attach)
	if err != nil {
		return err
	}
	req := traceReq{pid: pid, attach: attach, done: make(chan error, 1)}
	select {
	case t.reqs <- req:
	default:
		return errors.New("the signals tracer is busy with earlier requests: try again")
	}
	t.cur.Load().Wake() // nil until the tracer has a waker: it serves requests then
	timer := time.NewTimer(requestTimeout)
	defer timer.Stop()
	select {
	case err := <-req.done:
		return err
	case <-t.done:
		if t.err != nil && !errors.Is(t.err, context.Canceled) {
			return fmt.Errorf("the signals tracer stopped: %v", t.err)
		}
		return errors.New("the signals probe stopped")
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("the signals tracer did not answer within %v", requestTimeout)
	}
}

// tracerFor is the running tracer; in host mode an attach starts one.
func (p *signalsProbe) tracerFor(start bool) (*tracer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx == nil {
		return nil, errors.New("the signals probe is not running")
	}
	if p.tr != nil {
		select {
		case <-p.tr.done: // failed (its waker could not start): try anew
		default:
			return p.tr, nil
		}
	}
	if !start {
		return nil, errors.New("stakeout is not tracing any process with ptrace")
	}
	if err := p.cfg.ptraceCheck(); err != nil {
		return nil, err
	}
	// Host mode's --pid and --proc only pick whose signals to record; they
	// are not traced, so this tracer follows what the pane asks for only.
	cfg := p.cfg
	cfg.Signals.PIDs, cfg.Signals.Procs = nil, nil
	t := newTracer(cfg, p.emit)
	t.delivery = true
	t.onWaker = func(pid int) { p.wakerPID.Store(int64(pid)) }
	p.tr = t
	t.start(p.ctx)
	return t, nil
}

// startWaker starts a waker on the tracing thread and tells onWaker its
// pid.
func (t *tracer) startWaker() (*ptrace.Waker, error) {
	w, err := t.th.StartWaker()
	if err == nil && t.onWaker != nil {
		t.onWaker(w.Pid())
	}
	return w, err
}

// serveRequests answers the requests waiting; tracer thread only.
func (t *tracer) serveRequests() {
	for {
		select {
		case req := <-t.reqs:
			if req.attach {
				req.done <- t.attachRequested(req.pid)
			} else {
				req.done <- t.detachProc(req.pid)
			}
		default:
			return
		}
	}
}

// attachRequested attaches to pid as --pid would, and records why not
// when it can't.
func (t *tracer) attachRequested(pid int) error {
	if tgid, ok := t.threads[pid]; ok {
		return fmt.Errorf("pid %d is already traced", tgid)
	}
	var err error
	if pid == t.waker.Pid() {
		err = fmt.Errorf("pid %d is stakeout's own waker", pid)
	} else {
		err = t.attach(pid)
	}
	if err != nil {
		t.send(&schema.Trace{PID: pid, State: schema.TraceFailed, Reason: err.Error()})
		return err
	}
	delete(t.released, pid)
	return nil
}

// detachProc detaches from pid (or the process of thread pid) and every
// traced process born of it, as detachAll does for everything: each thread
// is interrupted and detached at its next stop, passing on a signal it
// was stopped for; a thread in a group-stop goes back to it. Other
// tracees' stops are left to the tracer's loop: only these threads are
// waited for. Gives up after detachTimeout on a thread that never stops
// (uninterruptible sleep); it stays traced until it does or stakeout ends.
func (t *tracer) detachProc(pid int) error {
	const detachTimeout = 3 * time.Second
	if tgid, ok := t.threads[pid]; ok {
		pid = tgid
	}
	if t.procs[pid] == nil {
		return fmt.Errorf("pid %d is not traced by stakeout", pid)
	}
	gone := t.descendants(pid)
	pending := map[int]bool{}
	counts := map[int]int{}
	for tid, g := range t.threads {
		if gone[g] {
			counts[g]++
			if t.th.Interrupt(tid) == nil {
				pending[tid] = true
			}
		}
	}
	deadline := time.Now().Add(detachTimeout)
	for len(pending) > 0 && time.Now().Before(deadline) {
		progress := false
		for tid := range pending {
			got, ws, err := t.th.WaitOne(tid)
			if errors.Is(err, unix.ECHILD) { // gone, and reaped
				delete(pending, tid)
				delete(t.threads, tid)
				continue
			}
			if err != nil || got != tid {
				continue
			}
			progress = true
			if ws.Exited() || ws.Signaled() {
				delete(pending, tid)
				t.gone(tid, ws)
				continue
			}
			if !ws.Stopped() {
				continue
			}
			sig := 0
			switch stopEvent(ws) {
			case 0:
				sig = int(ws.StopSignal()) // a signal on its way: deliver it
			case evFork, evVfork, evClone:
				if child, err := t.th.EventMsg(tid); err == nil && child > 0 {
					pending[child] = true // seized by the kernel for us: let it go too
				}
			}
			t.th.Detach(tid, sig)
			delete(pending, tid)
			delete(t.threads, tid)
		}
		if !progress {
			time.Sleep(time.Millisecond)
		}
	}
	for g := range gone {
		p := t.procs[g]
		if p == nil {
			continue // exited meanwhile: its exit was recorded
		}
		t.send(&schema.Trace{PID: g, Comm: p.comm, State: schema.TraceDetached, Threads: counts[g]})
		delete(t.procs, g)
		if len(t.released) > 4096 {
			clear(t.released) // bounded; a --proc match may be attached again
		}
		t.released[g] = true
	}
	if len(pending) > 0 {
		return fmt.Errorf("pid %d: %d thread(s) did not stop within %v and stay traced", pid, len(pending), detachTimeout)
	}
	return nil
}

// descendants is pid and every traced process born of it, through
// traced parents.
func (t *tracer) descendants(pid int) map[int]bool {
	out := map[int]bool{pid: true}
	for grew := true; grew; {
		grew = false
		for g, p := range t.procs {
			if !out[g] && p.parent != 0 && out[p.parent] {
				out[g] = true
				grew = true
			}
		}
	}
	return out
}
