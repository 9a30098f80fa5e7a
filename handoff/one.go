package handoff

import (
	"errors"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/sessions"
)

// EvidenceOf reads the evidence of one condition from r, chosen as Build
// chooses it for the report: by its detector's rule (findings.EvidenceOf),
// around the event that raised the condition (first), or, for a packet gap
// whose flow came back, around its clear (last). It is what the TUI shows
// when a finding is opened. fn, if not nil, transforms each event read. A
// damaged file (or one still being written, whose tail is not yet a whole
// chunk) gives the rows read up to the damage, with the *sessions.Damage
// error.
func EvidenceOf(r sessions.Recording, first, last event.Event, fn func(event.Event) event.Event) (Evidence, error) {
	f, ok := event.As[event.Finding](first)
	if !ok {
		return Evidence{}, errors.New("not a finding")
	}
	ev, e := first, findings.EvidenceOf(f)
	if lf, ok := event.As[event.Finding](last); ok && f.Finding == findings.FindingPacketGap &&
		lf.State == event.FindingCleared && last.Time.After(first.Time) {
		ev, e = last, findings.EvidenceOf(lf)
	}
	var flows map[flowKey]uint32
	if e.Of == findings.EvidencePackets {
		var err error
		if flows, err = flowIDs(r, fn, e, ev.Host, ev.Time); err != nil {
			return Evidence{}, err
		}
	}
	col := evidenceFor(ev, e, flows)
	err := collectEvidence(r, fn, []pending{{ev: ev, f: f, col: col}}, nil)
	return col.evidence(), err
}

// flowIDs finds the id of the flow e is about, on host, from its flow
// events before t: an active flow is announced at least once a minute, so they are
// looked for over the evidence's window before t (the flow's silence and
// the usual gaps before it) and the minutes before that.
func flowIDs(r sessions.Recording, fn func(event.Event) event.Event, e findings.Evidence, host string, t time.Time) (map[flowKey]uint32, error) {
	flows := map[flowKey]uint32{}
	a := e.About
	it := transformed(r.EventsRange(t.Add(-e.Before-2*packet.FlowReannounce), t), fn)
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if fi, ok := event.As[packet.FlowInfo](ev); ok && ev.Host == host && fi.Iface == a.Iface && fi.String() == a.Flow {
			flows[flowKey{host, fi.Iface, fi.String()}] = fi.ID
		}
	}
	return flows, it.Err()
}
