package schema

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stakeout/stakeout/event"
)

// maxSummaryProcs bounds SignalSummary: processes past it are counted, not kept.
const maxSummaryProcs = 1024

// SignalSummary condenses the signals probe's events for reports: per
// process, how many of each signal it received, and its fork/exec/exit
// story. Memory is bounded by maxSummaryProcs. The zero value is ready.
type SignalSummary struct {
	procs   map[int]*procSignals
	dropped int
}

type procSignals struct {
	comm         string
	counts       map[string]int
	forks, execs int
	exit         string
}

// ProcessSignals is one process's row; a public JSON contract.
type ProcessSignals struct {
	PID     int            `json:"pid"`
	Comm    string         `json:"comm"`
	Signals map[string]int `json:"signals"` // "SIGHUP": 2
	Total   int            `json:"total"`
	Forks   int            `json:"forks,omitempty"`
	Execs   int            `json:"execs,omitempty"`
	Exit    string         `json:"exit,omitempty"` // "exited 0", "killed by SIGKILL"
}

// SignalSummaryResult is the JSON form of a SignalSummary.
type SignalSummaryResult struct {
	Processes []ProcessSignals `json:"processes"`
	Dropped   int              `json:"events_dropped,omitempty"` // events of processes past the cap
}

func (s *SignalSummary) proc(pid int, comm string) *procSignals {
	if s.procs == nil {
		s.procs = map[int]*procSignals{}
	}
	p := s.procs[pid]
	if p == nil {
		if len(s.procs) >= maxSummaryProcs {
			s.dropped++
			return nil
		}
		p = &procSignals{counts: map[string]int{}}
		s.procs[pid] = p
	}
	if comm != "" {
		p.comm = comm
	}
	return p
}

// Observe takes the next event; others than the signals probe's are ignored.
func (s *SignalSummary) Observe(ev event.Event) {
	if sig, ok := event.As[Signal](ev); ok {
		if sig.Duplicate() {
			return // counted when it was sent
		}
		if p := s.proc(sig.PID, sig.Comm); p != nil {
			p.counts[sig.Signal]++
		}
	} else if f, ok := event.As[Fork](ev); ok {
		if p := s.proc(f.PID, f.Comm); p != nil {
			p.forks++
		}
	} else if x, ok := event.As[Exec](ev); ok {
		if p := s.proc(x.PID, x.Comm); p != nil {
			p.execs++
		}
	} else if x, ok := event.As[Exit](ev); ok {
		if p := s.proc(x.PID, x.Comm); p != nil {
			p.exit = x.Status
		}
	}
}

// Rows lists processes by pid.
func (s *SignalSummary) Rows() []ProcessSignals {
	out := make([]ProcessSignals, 0, len(s.procs))
	for pid, p := range s.procs {
		r := ProcessSignals{PID: pid, Comm: p.comm, Signals: map[string]int{}, Forks: p.forks, Execs: p.execs, Exit: p.exit}
		for k, v := range p.counts {
			r.Signals[k] = v
			r.Total += v
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

func (s *SignalSummary) Result() any {
	return SignalSummaryResult{Processes: s.Rows(), Dropped: s.dropped}
}

// Lines: "812 supervisor: SIGHUP×2, SIGUSR1×1000; 1 exec; exited 0".
// The report sanitizes every line it prints.
func (s *SignalSummary) Lines() []string {
	rows := s.Rows()
	if len(rows) == 0 {
		return []string{"no traced process"}
	}
	var out []string
	for _, r := range rows {
		names := make([]string, 0, len(r.Signals))
		for n := range r.Signals {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			if r.Signals[names[i]] != r.Signals[names[j]] {
				return r.Signals[names[i]] > r.Signals[names[j]]
			}
			return names[i] < names[j]
		})
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s×%d", n, r.Signals[n])
		}
		line := fmt.Sprintf("%d %s: ", r.PID, r.Comm)
		if len(parts) == 0 {
			line += "no signals"
		} else {
			line += strings.Join(parts, ", ")
		}
		if r.Forks > 0 {
			line += fmt.Sprintf("; %d fork(s)", r.Forks)
		}
		if r.Execs > 0 {
			line += fmt.Sprintf("; %d exec(s)", r.Execs)
		}
		if r.Exit != "" {
			line += "; " + r.Exit
		}
		out = append(out, line)
	}
	if s.dropped > 0 {
		out = append(out, fmt.Sprintf("(%d events of processes past the first %d not summarised)", s.dropped, maxSummaryProcs))
	}
	return out
}

// ProbeSignals is the signals probe's name.
const ProbeSignals = "signals"

func init() {
	RegisterProbe(ProbeInfo{Name: ProbeSignals, Rank: 20, Summary: func() Summarizer { return &SignalSummary{} },
		Kinds: []string{KindSignal, KindFork, KindExec, KindExit, KindTrace}})
}
