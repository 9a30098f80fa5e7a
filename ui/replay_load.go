package ui

import (
	"fmt"
	"sort"

	"github.com/stakeout/stakeout/event"
)

// ReplayProgressMsg says how far the wiring has read the recording for its
// findings: Done is the fraction of the recording's span read, 0 to 1.
type ReplayProgressMsg struct{ Done float64 }

// ReplayLoadedMsg brings what the wiring made of the whole recording once
// it has read it: the findings and notes (the timeline's marks, n/N and
// the strip) and the probes seen (their panes, in order, even before an
// event of theirs plays). Err, if not nil, says why the findings are
// incomplete.
type ReplayLoadedMsg struct {
	Findings []event.Event
	Probes   []string
	// Remote are the other hosts' probes seen (event.Event.Host set),
	// each host's in the order they first reported.
	Remote []HostProbe
	Err    error
}

// HostProbe is a probe on a host other than the recording's own.
type HostProbe struct{ Host, Probe string }

// NewReplayLoading is NewReplay before the findings are known: the replay
// opens and plays at once, at the source's position, while the wiring
// reads the whole recording for them (a long one takes a while), and a
// loading line stands in for the timeline until a ReplayLoadedMsg brings
// them.
func NewReplayLoading(o Options, src ReplaySource) Model {
	m := NewReplay(o, src, nil)
	m.replay.loading = true
	return m
}

// Loading says the findings are still being read.
func (r replayCtl) Loading() bool { return r.loading }

// progress takes a ReplayProgressMsg.
func (r replayCtl) progress(msg ReplayProgressMsg) replayCtl {
	r.loaded = min(max(msg.Done, r.loaded), 1)
	return r
}

// load takes the findings of the whole file, keeping the notes saved
// while they were read (AddMark).
func (r replayCtl) load(msg ReplayLoadedMsg) replayCtl {
	fs := append(append([]event.Event(nil), msg.Findings...), r.added...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Time.Before(fs[j].Time) })
	r.findings, r.marks, r.loading, r.loaded = fs, markStops(fs), false, 1
	if msg.Err != nil {
		r.note = "replay: findings incomplete: " + event.Sanitize(msg.Err.Error())
	}
	return r
}

// LoadingLine stands in for the timeline while the findings are read.
func (r replayCtl) LoadingLine(w int) string {
	st := r.env.st
	return clip(st.Accent.Render("⧗ loading")+st.Muted.Render(fmt.Sprintf(
		" reading the recording for its findings… %d%% · the timeline's marks and n/N come when it is done", int(r.loaded*100))), w)
}

// replayLoaded applies a ReplayLoadedMsg: marks, strip and panes.
func (m Model) replayLoaded(msg ReplayLoadedMsg) Model {
	if m.replay == nil {
		return m
	}
	r := m.replay.load(msg)
	m.replay = &r
	for _, p := range msg.Probes {
		m.panes, _ = m.panes.slotFor("", p)
	}
	for _, p := range msg.Remote {
		m.panes, _ = m.panes.slotFor(p.Host, p.Probe)
	}
	m.strip = m.strip.Set(r.FindingsUpTo())
	return m.hostsShown()
}
