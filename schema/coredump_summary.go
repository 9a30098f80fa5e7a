package schema

import (
	"fmt"

	"github.com/stakeout/stakeout/event"
)

// CoredumpSummary reports the last core-dump readiness seen, and how many
// times it changed.
type CoredumpSummary struct {
	last    *CoreReadiness
	changes int
}

// CoredumpSummaryResult is the JSON form, under "summary": {"coredump": …}.
type CoredumpSummaryResult struct {
	Last    *CoreReadiness `json:"last"`
	Changes int            `json:"changes"` // readiness events after the first
}

func (s *CoredumpSummary) Observe(ev event.Event) {
	r, ok := event.As[CoreReadiness](ev)
	if !ok {
		return
	}
	if s.last != nil {
		s.changes++
	}
	c := *r
	s.last = &c
}

func (s *CoredumpSummary) Result() any {
	return CoredumpSummaryResult{Last: s.last, Changes: s.changes}
}

func (s *CoredumpSummary) Lines() []string {
	r := s.last
	if r == nil {
		return []string{"core-dump readiness not checked"}
	}
	l := "core_pattern " + r.CorePattern
	if r.PipeTargetExists != nil {
		if *r.PipeTargetExists {
			l += " (pipe target present)"
		} else {
			l += " (pipe target " + r.PipeTarget + " missing)"
		}
	}
	l += fmt.Sprintf("; suid_dumpable %d; core_pipe_limit %d; systemd-coredump %v", r.SuidDumpable, r.CorePipeLimit, r.SystemdCoredump)
	who := "processes"
	if r.Watched {
		who = "watched processes"
	}
	l2 := fmt.Sprintf("%d of %d %s have a core size limit of 0", r.ZeroLimit, r.Processes, who)
	if s.changes > 0 {
		l2 += fmt.Sprintf("; the settings changed %d times during the session", s.changes)
	}
	return []string{l, l2}
}

// ProbeCoredump is the coredump probe's name.
const ProbeCoredump = "coredump"

func init() {
	RegisterProbe(ProbeInfo{Name: ProbeCoredump, Rank: 80, Summary: func() Summarizer { return &CoredumpSummary{} },
		Kinds: []string{KindCoreReadiness}})
}
