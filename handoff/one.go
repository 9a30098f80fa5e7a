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
// chooses it for the report: around the event that raised the condition
// (first), or, for a packet gap whose flow came back, around its clear
// (last). It is what the TUI shows when a finding is opened. fn, if not
// nil, transforms each event read. A damaged file (or one still being
// written, whose tail is not yet a whole chunk) gives the rows read up to
// the damage, with the *sessions.Damage error.
func EvidenceOf(r *sessions.Reader, first, last event.Event, fn func(event.Event) event.Event) (Evidence, error) {
	f, ok := event.AsFinding(first)
	if !ok {
		return Evidence{}, errors.New("not a finding")
	}
	ev, d := first, decodeData(f.Data)
	if lf, ok := event.AsFinding(last); ok && f.Finding == findings.FindingPacketGap &&
		lf.State == event.FindingCleared && last.Time.After(first.Time) {
		ev, d = last, decodeData(lf.Data)
	}
	var flows map[flowKey]uint32
	if f.Finding == findings.FindingPacketGap || f.Finding == findings.FindingPacketStallReset {
		var err error
		if flows, err = flowIDs(r, fn, d, ev.Time); err != nil {
			return Evidence{}, err
		}
	}
	col := evidenceFor(ev, f.Finding, d, flows)
	err := collectEvidence(r, fn, []pending{{ev: ev, f: f, col: col}})
	return col.evidence(), err
}

// flowIDs finds the id of the flow d names, from its flow events before t:
// an active flow is announced at least once a minute, so they are looked
// for over its silence and the minutes before it.
func flowIDs(r *sessions.Reader, fn func(event.Event) event.Event, d findingData, t time.Time) (map[flowKey]uint32, error) {
	flows := map[flowKey]uint32{}
	silent := msWindow(max(d.GapMs, d.StallMs)) + 3*msWindow(d.UsualMs)
	it := transformed(r.IterRange(t.Add(-silent-2*packet.FlowReannounce), t), fn)
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if fi, ok := packet.AsFlowInfo(ev); ok && fi.Iface == d.Iface && fi.String() == d.Flow {
			flows[flowKey{fi.Iface, fi.String()}] = fi.ID
		}
	}
	return flows, it.Err()
}
