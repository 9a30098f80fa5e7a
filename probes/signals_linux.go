package probes

// The signals probe: every signal a traced process receives, who sent it,
// and its forks, execs and exits, seen with ptrace at the cost of one stop
// per signal and nothing per system call.
//
// How it stays harmless (each point has a test):
//   - PTRACE_SEIZE, never PTRACE_ATTACH: no SIGSTOP is injected.
//   - Resumed only with PTRACE_CONT, never PTRACE_SYSCALL: no syscall stops.
//   - A signal is re-injected in the PTRACE_CONT that ends its stop, before
//     anything is formatted or emitted; Emit never blocks.
//   - Group-stops get PTRACE_LISTEN: a SIGSTOPped process stays stopped.
//   - No PTRACE_O_EXITKILL: if stakeout dies the kernel detaches, and the
//     tracees run on. On a clean exit every thread is interrupted and detached.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/aligned"
	"github.com/stakeout/stakeout/probes/ptrace"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

const signalsName = schema.ProbeSignals

// maxTracedThreads bounds the tracer's tables; past it, new processes from
// --proc are not attached (threads of traced ones still are: the kernel
// attaches them whether or not we keep a row).
const maxTracedThreads = 8192

var signalsSpec = Spec{
	Name: signalsName,
	Help: "every signal a process receives and who sent it, plus its forks, execs and exits (ptrace, no syscall stops)",
	Flags: func(fs *pflag.FlagSet, cfg *Config) {
		fs.IntSliceVar(&cfg.Signals.PIDs, "pid", nil, "signals: trace this process and its threads and children (repeatable)")
		fs.StringArrayVar(&cfg.Signals.Procs, "proc", nil,
			"signals: trace every process whose comm or executable name is NAME, including ones that start later, found as they exec (repeatable)")
		fs.StringVar(&cfg.Signals.Mode, "signals", "",
			"signals: 'host' follows every signal on the host through tracefs (signal:signal_generate) even with --pid/--proc; 'off' turns the probe off (default: host-wide unless --pid/--proc name targets)")
		fs.Var((*signalList)(&cfg.Signals.Include), "signals-include",
			"signals: with --signals host, also record SIG, which host mode leaves out by default (SIGURG, every Go runtime's preemption) (repeatable)")
		fs.DurationVar(&cfg.Signals.BurstWindow, "burst-window", schema.DefaultBurstWindow,
			"signal.burst: the same signal to the same process twice within this is a burst")
	},
	New:      func(cfg Config) Probe { return &signalsProbe{cfg: cfg} },
	Validate: validatePIDs,
}

// signalList is --signals-include: names are checked as they are parsed,
// so a bad one is a usage error, and kept as their canonical names.
type signalList []string

func (l *signalList) String() string { return strings.Join(*l, ",") }
func (l *signalList) Type() string   { return "SIG" }
func (l *signalList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		n, err := ParseSignal(s)
		if err != nil {
			return err
		}
		*l = append(*l, schema.SignalName(n))
	}
	return nil
}

type signalsProbe struct {
	cfg Config
	// hostPolled says host mode waits for trace_pipe in the netpoller
	// (false: it fell back to a 20 ms poll); tests read it.
	hostPolled atomic.Bool
	// wakerPID is the host-mode tracer's waker, whose stops host mode
	// must not record as signals (0: none yet).
	wakerPID atomic.Int64

	mu   sync.Mutex
	ctx  context.Context // Run's, while it runs (nil otherwise)
	emit Emit
	tr   *tracer // the ptrace tracer, if one runs (host mode: after an Attach)
}

// hostMode says the probe follows the whole host through tracefs: asked
// for with --signals host, and the default when no --pid or --proc names
// a target.
func (c Config) hostMode() bool {
	sc := c.Signals
	return sc.Mode == SignalsHost || (sc.Mode == "" && len(sc.PIDs) == 0 && len(sc.Procs) == 0)
}

// Check validates the targets without touching them.
func (p *signalsProbe) Check() error {
	sc := p.cfg.Signals
	switch sc.Mode {
	case SignalsOff:
		return Unavailablef("turned off (--signals off)")
	case SignalsHost:
		return p.cfg.hostCheck()
	case "", "ptrace":
	default:
		return Unavailablef("--signals %q: want host or off (or nothing: host-wide, or the --pid/--proc targets)", sc.Mode)
	}
	if len(sc.PIDs) == 0 && len(sc.Procs) == 0 {
		if sc.Mode == "" {
			// Host-wide by default; where tracefs can't be had, the
			// engineer must name a process, and is told why.
			if err := p.cfg.hostCheck(); err != nil {
				return Unavailablef("no target: give --pid PID or --proc NAME (host-wide mode is unavailable: %s)", StatusOf(err).Reason)
			}
			return nil
		}
		return Unavailablef("no target: give --pid PID or --proc NAME")
	}
	if err := p.cfg.ptraceCheck(); err != nil {
		return err
	}
	if len(sc.Procs) > 0 {
		return nil // names may match processes that start later
	}
	var problems []string
	for _, pid := range sc.PIDs {
		err := p.cfg.targetProblem(pid, os.Getpid())
		if err == nil {
			return nil // at least one target; Run reports the others
		}
		problems = append(problems, err.Error())
	}
	return Unavailablef("%s", strings.Join(problems, "; "))
}

// ptraceCheck says why this process may not ptrace anyone, or nil.
func (c Config) ptraceCheck() error {
	if !c.hasPtracePermission() {
		return Unavailablef("no permission to trace: run as root or with CAP_SYS_PTRACE")
	}
	if b, err := os.ReadFile(c.ProcPath("sys", "kernel", "yama", "ptrace_scope")); err == nil &&
		strings.TrimSpace(string(b)) == "3" {
		return Unavailablef("ptrace is disabled on this host (kernel.yama.ptrace_scope = 3)")
	}
	return nil
}

// Run traces until ctx is done, then detaches from every thread. All
// ptrace calls happen on one goroutine locked to its OS thread, the
// tracing thread of package ptrace. In host mode that thread only starts
// when a process is attached from the pane (Attach), and Run waits for it
// to detach before it returns.
func (p *signalsProbe) Run(ctx context.Context, emit Emit) error {
	if p.cfg.hostMode() {
		ctx, cancel := context.WithCancel(ctx)
		p.running(ctx, emit, nil)
		defer p.stopped(cancel)
		return p.runHost(ctx, emit)
	}
	t := newTracer(p.cfg, emit)
	p.running(ctx, emit, t)
	defer p.stopped(func() {})
	t.start(ctx)
	<-t.done
	return t.err
}

// tracedProc is what the tracer knows of one traced process.
type tracedProc struct {
	comm    string
	otherNS bool // in another pid namespace: its senders' pids are not ours
	parent  int  // the traced process it was born of, 0 for one attached itself
}

type tracer struct {
	cfg     Config
	emit    Emit
	now     func() time.Time
	self    int
	selfNS  string
	threads map[int]int // tid → tgid of every thread we trace
	procs   map[int]*tracedProc
	failed  map[int]bool   // --proc matches we could not attach, reported once
	th      *ptrace.Thread // set by run: every ptrace request goes through it
	waker   *ptrace.Waker
	senders *senders
	sigbuf  ptrace.Siginfo
	// --proc: pids the proc connector found, and whether a full scan of
	// /proc is due (every interval, and when the connector lost events).
	newcomers newcomers
	scanDue   atomic.Bool

	// cur is the waker, for other goroutines to wake the tracer with.
	cur atomic.Pointer[ptrace.Waker]
	// onWaker, if set, hears the pid of each waker started.
	onWaker func(pid int)
	// reqs are attach and detach requests from the pane (Attach, Detach).
	reqs chan traceReq
	// released are --proc matches detached on request: not attached again.
	released map[int]bool
	// delivery marks signals as the delivery side of ones host mode
	// records when sent (schema.SourcePtrace).
	delivery bool
	// done is closed when run returns, with its error in err.
	done chan struct{}
	err  error
}

func newTracer(cfg Config, emit Emit) *tracer {
	return &tracer{cfg: cfg, emit: emit, now: time.Now, self: os.Getpid(), selfNS: cfg.pidNS("self"),
		threads: map[int]int{}, procs: map[int]*tracedProc{}, failed: map[int]bool{}, senders: newSenders(cfg),
		reqs: make(chan traceReq, 8), released: map[int]bool{}, done: make(chan struct{})}
}

func (t *tracer) send(b event.Body) { t.emit(event.New(t.now(), signalsName, b)) }

// attach seizes every thread of pid. Threads born while we list are caught
// either by the next listing or by TRACECLONE on a thread already seized,
// so the listing repeats until it finds nothing new.
func (t *tracer) attach(pid int) error {
	if err := t.cfg.targetProblem(pid, t.self); err != nil {
		return err
	}
	// A thread id given as --pid means its whole process.
	if g, err := t.cfg.statusInt(pid, "Tgid"); err == nil && g != pid {
		if _, ok := t.procs[g]; ok {
			return nil
		}
		pid = g
	}
	if len(t.threads) >= maxTracedThreads {
		return fmt.Errorf("pid %d: already tracing %d threads", pid, maxTracedThreads)
	}
	comm, _ := t.cfg.readComm(pid)
	seized := 0
	for round := 0; round < 20; round++ {
		tids, err := t.cfg.taskIDs(pid)
		if err != nil {
			break
		}
		fresh := false
		for _, tid := range tids {
			if _, ok := t.threads[tid]; ok {
				continue
			}
			if err := t.th.Seize(tid); err != nil {
				if tp, _ := t.cfg.statusInt(tid, "TracerPid"); tp == t.th.TID() {
					t.threads[tid] = pid // auto-attached by TRACECLONE meanwhile
					continue
				}
				if seized == 0 && !errors.Is(err, unix.ESRCH) {
					return t.seizeError(pid, err)
				}
				continue // the thread exited meanwhile
			}
			t.threads[tid] = pid
			seized++
			fresh = true
		}
		if !fresh {
			break
		}
	}
	if seized == 0 {
		return fmt.Errorf("pid %d: no such process", pid)
	}
	t.procs[pid] = &tracedProc{comm: comm, otherNS: t.cfg.pidNS(strconv.Itoa(pid)) != t.selfNS}
	t.send(&schema.Trace{PID: pid, Comm: comm, State: schema.TraceAttached, Threads: seized})
	return nil
}

// seizeError words a failed PTRACE_SEIZE.
func (t *tracer) seizeError(pid int, err error) error {
	if p := t.cfg.targetProblem(pid, t.self); p != nil {
		return p
	}
	switch {
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("pid %d: permission denied: need root or CAP_SYS_PTRACE, and no seccomp or LSM policy forbidding ptrace", pid)
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("pid %d: no such process", pid)
	}
	return fmt.Errorf("pid %d: PTRACE_SEIZE: %v", pid, err)
}

// start runs the tracer on a tracing thread of its own (ptrace.Run), and
// closes t.done when it returns, with its error in t.err.
func (t *tracer) start(ctx context.Context) {
	go func() {
		t.err = ptrace.Run(func(th *ptrace.Thread) error { return t.run(ctx, th) })
		close(t.done)
	}()
}

// run is the tracer's goroutine, on the tracing thread th.
func (t *tracer) run(ctx context.Context, th *ptrace.Thread) (err error) {
	t.th = th
	w, err := t.startWaker()
	if err != nil {
		return fmt.Errorf("cannot start the tracer's waker process: %w", err)
	}
	t.waker = w
	defer func() { t.waker.Stop() }()
	defer func() {
		if r := recover(); r != nil {
			t.detachAll()
			err = fmt.Errorf("signals probe crashed and detached: %v", r)
		}
	}()

	if err := t.attachGiven(); err != nil {
		return err
	}
	current := &t.cur // the pane's requests wake the tracer through it too
	current.Store(w)
	// Subscribed before the first scan, so a process that starts between
	// the two is not missed.
	if pc := t.followProcConn(current); pc != nil {
		defer pc.close()
	}
	t.scanProcs()
	t.serveRequests() // any asked for before the waker could be woken

	stopWaking := make(chan struct{})
	defer close(stopWaking)
	go t.wakeOn(ctx, current, stopWaking)
	for {
		tid, ws, err := th.Wait()
		if err != nil {
			return fmt.Errorf("wait4: %w", err) // only if the waker vanished unreaped
		}
		if tid != t.waker.Pid() {
			t.handle(tid, ws)
			continue
		}
		if done, err := t.woken(ctx, ws, current); done {
			return err
		}
	}
}

// attachGiven attaches to each --pid, reporting each one it cannot trace.
// That is an error only when nothing is traced and no --proc names
// processes to wait for.
func (t *tracer) attachGiven() error {
	var failures []string
	for _, pid := range t.cfg.Signals.PIDs {
		if _, dup := t.procs[pid]; dup {
			continue
		}
		if err := t.attach(pid); err != nil {
			failures = append(failures, err.Error())
			t.send(&schema.Trace{PID: pid, State: schema.TraceFailed, Reason: err.Error()})
		}
	}
	if len(t.procs) == 0 && len(t.cfg.Signals.Procs) == 0 && len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	return nil
}

// followProcConn subscribes to the proc connector when --proc names
// processes, and wakes the tracer (through current) for each that takes a
// watched name, or for a scan when the connector lost events. It returns
// the connection to close, or nil: no --proc, or no connector here (not in
// the initial pid namespace, no CAP_NET_ADMIN), and the scan every interval
// is all there is.
func (t *tracer) followProcConn(current *atomic.Pointer[ptrace.Waker]) *procConn {
	names := t.cfg.Signals.Procs
	if len(names) == 0 {
		return nil
	}
	pc, err := openProcConn()
	if err != nil {
		return nil
	}
	go pc.follow(func(ev procEvent) bool {
		if ev.comm != "" {
			return commMatches(ev.comm, names)
		}
		return t.cfg.matchesProc(ev.tgid, names)
	}, func(pid int) {
		if t.newcomers.add(pid) {
			current.Load().Wake()
		}
	}, func() {
		t.scanDue.Store(true)
		current.Load().Wake()
	})
	return pc
}

// woken handles a wait status of the waker (ws): ctx may be done, or there
// are processes to attach, or requests from the pane to serve. A waker that was killed is replaced (current
// then holds the new one). done says the tracer is to return err.
func (t *tracer) woken(ctx context.Context, ws unix.WaitStatus, current *atomic.Pointer[ptrace.Waker]) (done bool, err error) {
	if !ws.Stopped() { // someone killed the waker: start another
		if t.waker, err = t.startWaker(); err != nil {
			t.waker = nil // none: its methods do nothing
			t.detachAll()
			return true, fmt.Errorf("cannot restart the tracer's waker process: %w", err)
		}
		current.Store(t.waker)
	}
	if ctx.Err() != nil {
		t.detachAll()
		return true, ctx.Err()
	}
	if t.scanDue.Swap(false) {
		t.scanProcs()
	}
	for _, pid := range t.newcomers.take() {
		t.maybeAttach(pid)
	}
	t.serveRequests()
	t.waker.Resume()
	// A wake-up sent while the waker was still stopped was discarded
	// by the SIGCONT: look again. That includes the one wakeOn sends when
	// ctx ends, which may have come after ctx was looked at above.
	if t.newcomers.pending() || t.scanDue.Load() || len(t.reqs) > 0 || ctx.Err() != nil {
		t.waker.Wake()
	}
	return false, nil
}

// wakeOn wakes the tracer when ctx ends, and every interval when --proc
// names processes that may start later: the proc connector finds those as
// they start, and the scan is the fallback where it is unavailable (not in
// the initial pid namespace, no CAP_NET_ADMIN) or lost events.
func (t *tracer) wakeOn(ctx context.Context, w *atomic.Pointer[ptrace.Waker], stop <-chan struct{}) {
	var wakeC <-chan time.Time
	if len(t.cfg.Signals.Procs) > 0 {
		every := t.cfg.Interval
		if every <= 0 {
			every = time.Second
		}
		tk := aligned.NewTicker(every)
		defer tk.Stop()
		wakeC = tk.C
	}
	for {
		select {
		case <-ctx.Done():
			w.Load().Wake()
			return
		case <-wakeC:
			t.scanDue.Store(true)
			w.Load().Wake()
		case <-stop:
			return
		}
	}
}

// scanProcs attaches to new processes that --proc names.
func (t *tracer) scanProcs() {
	names := t.cfg.Signals.Procs
	if len(names) == 0 {
		return
	}
	if len(t.failed) > 4096 {
		clear(t.failed) // bounded; a failure may be reported again
	}
	for _, pid := range t.cfg.pids() {
		t.maybeAttach(pid)
	}
}

// maybeAttach attaches to pid if --proc names it and it is not traced yet.
func (t *tracer) maybeAttach(pid int) {
	if _, ok := t.procs[pid]; ok || pid == t.self || pid == t.waker.Pid() || t.failed[pid] || t.released[pid] {
		return
	}
	if _, ok := t.threads[pid]; ok || !t.cfg.matchesProc(pid, t.cfg.Signals.Procs) {
		return
	}
	if err := t.attach(pid); err != nil {
		t.failed[pid] = true
		t.send(&schema.Trace{PID: pid, State: schema.TraceFailed, Reason: err.Error()})
	}
}

func init() { register(signalsSpec) }
