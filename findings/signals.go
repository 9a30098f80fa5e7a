package findings

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Findings made from the signals probe's events.
const (
	FindingSignalBurst    = "signal.burst"
	FindingExecRace       = "signal.exec_race"
	FindingSignalStorm    = "signal.storm"
	FindingProcessKilled  = "process.killed"
	maxSignalProcs        = 4096 // processes the detector keeps state for
	maxSignalsPerProc     = 64   // distinct signals per process
	maxBurstGaps          = 16   // gaps listed in a burst finding
	maxBurstSenders       = 8    // senders listed in a burst finding
	defaultExecRaceWindow = 50 * time.Millisecond
)

// SignalThresholds tune the signal findings.
//
// Why these defaults: logrotate's two HUPs in the incident were a few ms
// apart, a heartbeat is rarely faster than 10 Hz, so 100 ms separates a
// double send from a rhythm. An exec is "fresh" for 50 ms: the time for a
// new image to start and install its handlers. A child still not exec'd a
// second after its fork is a worker (a pre-fork server), not a child on
// its way to exec. 100 of one signal in a second is more than any healthy
// heartbeat or SIGCHLD rate (a busy shell loop makes about 10/s).
type SignalThresholds struct {
	BurstWindow    time.Duration // the same signal again within this is a burst
	ExecRaceWindow time.Duration // a signal this soon after exec is a race
	ForkExecWindow time.Duration // how long a child counts as "between fork and exec"
	StormCount     int           // this many of one signal…
	StormWindow    time.Duration // …within this is a storm
}

// DefaultSignalThresholds are used for zero fields.
var DefaultSignalThresholds = SignalThresholds{
	BurstWindow:    schema.DefaultBurstWindow,
	ExecRaceWindow: defaultExecRaceWindow,
	ForkExecWindow: time.Second,
	StormCount:     100,
	StormWindow:    time.Second,
}

// BurstSender is one sender of a burst, as it was when it sent its first
// signal of the burst.
type BurstSender struct {
	PID        int    `json:"pid"` // 0: the kernel
	Comm       string `json:"comm,omitempty"`
	Count      int    `json:"count"`
	PPID       int    `json:"ppid,omitempty"`
	ParentComm string `json:"parent_comm,omitempty"`
	Cgroup     string `json:"cgroup,omitempty"`
	Unit       string `json:"unit,omitempty"` // systemd service or scope
	TTY        string `json:"tty,omitempty"`
}

// SignalBurstData is signal.burst's data.
type SignalBurstData struct {
	PID      int           `json:"pid"`
	Comm     string        `json:"comm"`
	Signal   string        `json:"signal"`
	Count    int           `json:"count"`
	WindowMs float64       `json:"window_ms"` // the --burst-window rule
	SpanMs   float64       `json:"span_ms"`   // first to last signal of the burst
	GapsMs   []float64     `json:"gaps_ms"`   // between consecutive signals, first 16
	Senders  []BurstSender `json:"senders"`
}

// ExecRaceData is signal.exec_race's data.
type ExecRaceData struct {
	PID         int      `json:"pid"`
	Comm        string   `json:"comm"`
	Signal      string   `json:"signal"`
	When        string   `json:"when"`                    // "3.1 ms after exec", "between fork and exec", …
	MsAfterExec *float64 `json:"ms_after_exec,omitempty"` // set for "after exec"
	ChildPID    int      `json:"child_pid,omitempty"`     // the child between fork and exec, when the parent was hit
	SenderPID   int      `json:"sender_pid,omitempty"`
	SenderComm  string   `json:"sender_comm,omitempty"`
}

// SignalStormData is signal.storm's data.
type SignalStormData struct {
	PID      int     `json:"pid"`
	Comm     string  `json:"comm"`
	Signal   string  `json:"signal"`
	Count    int     `json:"count"`
	RatePerS float64 `json:"rate_per_s"`
}

// ProcessKilledData is process.killed's data.
type ProcessKilledData struct {
	PID    int    `json:"pid"`
	Comm   string `json:"comm"`
	Signal string `json:"signal"`
	Core   bool   `json:"core,omitempty"`
	// The sender of the last such signal seen delivered to it within a
	// second, if any. Never for SIGKILL: ptrace cannot see it delivered.
	SenderPID  int    `json:"sender_pid,omitempty"`
	SenderComm string `json:"sender_comm,omitempty"`
	// For a signal that dumps core: whether it did, and if not why.
	CoreOutcome
}

// A signal finding is shown by the signals to its process (of its signal)
// over the burst and the seconds before; a killed process by every signal
// to it, since the fatal one may be a SIGKILL, never seen delivered.
func init() {
	register(FindingSignalBurst, func(d SignalBurstData) Evidence { return signalEvidence(d.PID, d.Comm, d.Signal, d.SpanMs) })
	register(FindingExecRace, func(d ExecRaceData) Evidence { return signalEvidence(d.PID, d.Comm, d.Signal, 0) })
	register(FindingSignalStorm, func(d SignalStormData) Evidence { return signalEvidence(d.PID, d.Comm, d.Signal, 0) })
	register(FindingProcessKilled, func(d ProcessKilledData) Evidence { return signalEvidence(d.PID, d.Comm, "", 0) })
}

type signals struct {
	core      coreFacts // core-dump settings, for process.killed
	t         SignalThresholds
	procs     map[int]*sigProc
	lastSweep time.Time
	c         conds // one condition per key (signals_conds.go)
}

type sigProc struct {
	comm      string
	seen      time.Time
	execAt    time.Time // last exec
	forkAt    time.Time // fork that made it, while it has not exec'd
	parent    int
	child     int // last child, while between fork and exec
	childAt   time.Time
	raceFired bool // one exec_race per exec (or fork)
	runs      map[string]*sigRun
}

type sigRun struct {
	first, last time.Time
	count       int
	fired       int // count when last reported
	gaps        []float64
	senders     []BurstSender
	storming    bool
	winStart    time.Time
	winCount    int
	lastSender  BurstSender
}

// NewSignals returns the detector of signal.burst, signal.exec_race,
// signal.storm and process.killed; zero thresholds take the defaults.
func NewSignals(t SignalThresholds) Detector {
	d := DefaultSignalThresholds
	if t.BurstWindow > 0 {
		d.BurstWindow = t.BurstWindow
	}
	if t.ExecRaceWindow > 0 {
		d.ExecRaceWindow = t.ExecRaceWindow
	}
	if t.ForkExecWindow > 0 {
		d.ForkExecWindow = t.ForkExecWindow
	}
	if t.StormCount > 0 {
		d.StormCount = t.StormCount
	}
	if t.StormWindow > 0 {
		d.StormWindow = t.StormWindow
	}
	return &signals{core: newCoreFacts(), t: d, procs: map[int]*sigProc{}, c: conds{quiet: signalQuiet}}
}

func (d *signals) Produces() []string {
	return []string{FindingSignalBurst, FindingExecRace, FindingSignalStorm, FindingProcessKilled}
}

func (d *signals) Observe(ev event.Event) []event.Event {
	at := ev.Time
	var out []*event.Finding
	d.core.observe(ev)
	if s, ok := event.As[schema.Signal](ev); ok {
		out = d.signal(at, s)
	} else if f, ok := event.As[schema.Fork](ev); ok {
		p := d.proc(f.PID, f.Comm, at)
		if p != nil {
			p.child, p.childAt = f.ChildPID, at
		}
		if c := d.proc(f.ChildPID, f.Comm, at); c != nil {
			c.forkAt, c.parent, c.execAt, c.raceFired = at, f.PID, time.Time{}, false
		}
	} else if x, ok := event.As[schema.Exec](ev); ok {
		if p := d.proc(x.PID, x.Comm, at); p != nil {
			p.comm = x.Comm
			if pp := d.procs[p.parent]; pp != nil && pp.child == x.PID {
				pp.child = 0
			}
			p.execAt, p.forkAt, p.raceFired = at, time.Time{}, false
		}
	} else if x, ok := event.As[schema.Exit](ev); ok {
		out = d.exit(at, x)
	}
	if at.Sub(d.lastSweep) >= d.t.BurstWindow {
		out = append(out, d.sweep(at)...)
		d.lastSweep = at
	}
	return d.conditions(at, out)
}

// proc finds or makes a process's state; nil past maxSignalProcs.
func (d *signals) proc(pid int, comm string, at time.Time) *sigProc {
	p := d.procs[pid]
	if p == nil {
		if len(d.procs) >= maxSignalProcs {
			d.evictOldest()
		}
		p = &sigProc{runs: map[string]*sigRun{}}
		d.procs[pid] = p
	}
	if comm != "" {
		p.comm = comm
	}
	p.seen = at
	return p
}

func (d *signals) evictOldest() {
	oldest, at := 0, time.Time{}
	for pid, p := range d.procs {
		if at.IsZero() || p.seen.Before(at) {
			oldest, at = pid, p.seen
		}
	}
	delete(d.procs, oldest)
}

func sigSender(s *schema.Signal) BurstSender {
	if s.SenderPID == 0 {
		return BurstSender{Comm: "kernel"}
	}
	return BurstSender{PID: s.SenderPID, Comm: s.SenderComm, PPID: s.SenderPPID, ParentComm: s.SenderParentComm,
		Cgroup: s.SenderCgroup, Unit: s.SenderUnit, TTY: s.SenderTTY}
}

func sigRound1(x float64) float64 { return math.Round(x*10) / 10 }

func sigMs(d time.Duration) float64 { return sigRound1(float64(d) / float64(time.Millisecond)) }

func sigWho(pid int, comm string) string {
	if comm == "" {
		return fmt.Sprint(pid)
	}
	return fmt.Sprintf("%d (%s)", pid, event.Sanitize(comm))
}

func sigSendersText(ss []BurstSender) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = senderText(s)
	}
	return strings.Join(parts, ", ")
}

// senderText names a sender with what is known of it: "4410 (sh; parent
// 4400 (bash), unit session-3.scope, tty pts/0)".
func senderText(s BurstSender) string {
	if s.PID == 0 {
		return "the kernel"
	}
	var more []string
	if s.PPID != 0 {
		more = append(more, "parent "+sigWho(s.PPID, s.ParentComm))
	}
	switch {
	case s.Unit != "":
		more = append(more, "unit "+event.Sanitize(s.Unit))
	case s.Cgroup != "" && s.Cgroup != "/":
		more = append(more, "cgroup "+event.Sanitize(s.Cgroup))
	}
	if s.TTY != "" {
		more = append(more, "tty "+event.Sanitize(s.TTY))
	}
	if len(more) == 0 {
		return sigWho(s.PID, s.Comm)
	}
	return fmt.Sprintf("%d (%s; %s)", s.PID, event.Sanitize(s.Comm), strings.Join(more, ", "))
}

func init() {
	registerDetector(20, func(cfg Config) Detector { return NewSignals(SignalThresholds{BurstWindow: cfg.SignalBurstWindow}) })
}
