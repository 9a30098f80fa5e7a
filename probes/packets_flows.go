package probes

import (
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
)

// MaxTrackedFlows caps a FlowTable; past it the idlest eighth is evicted.
const MaxTrackedFlows = 8192

// gapWindow is how many recent inter-arrival intervals give a flow's usual
// interval (their median).
const gapWindow = 16

// GapRule says when a flow's silence is a finding: the flow must be
// periodic (at least MinIntervals intervals, the middle half within
// MaxSpread of the median), and the gap at least Factor times the usual
// interval and MinExtra longer than it. A 1 s VRRP advert arriving 3.5 s
// late fires; a 1 s ± 20 % jitter, one lost advert (2 s), or pauses in bulk
// or interactive traffic (never periodic) do not.
type GapRule struct {
	Factor       float64
	MinExtra     time.Duration
	MinIntervals int
	MaxSpread    float64
}

// DefaultGapRule is the rule the detector and the pane use.
var DefaultGapRule = GapRule{Factor: 2.5, MinExtra: 250 * time.Millisecond, MinIntervals: 4, MaxSpread: 0.5}

// FlowStats is what a FlowTable knows of one flow, from event time only.
type FlowStats struct {
	Info           FlowInfo
	First, Last    time.Time
	Packets, Bytes uint64
	SYN, FIN, RST  uint64
	MaxGap         time.Duration

	ivals      [gapWindow]time.Duration // recent inter-arrival intervals, a ring
	nIval, pos int
	sec        int64 // Unix second of the current rate bucket
	secP, secB uint64
	prevP      uint64 // the bucket before, if it was sec-1
	prevB      uint64
}

// Usual is the median of the recent intervals, and whether the flow looks
// periodic under r.
func (f *FlowStats) Usual(r GapRule) (time.Duration, bool) {
	n := min(f.nIval, gapWindow)
	if n == 0 {
		return 0, false
	}
	iv := make([]time.Duration, n)
	copy(iv, f.ivals[:n])
	slices.Sort(iv)
	med := iv[n/2]
	if n < r.MinIntervals || med <= 0 {
		return med, false
	}
	spread := iv[(3*n)/4] - iv[n/4]
	return med, float64(spread) <= r.MaxSpread*float64(med)
}

// Rate is packets and bytes per second over the last whole second before
// now (event time), 0 once the flow has been quiet for longer.
func (f *FlowStats) Rate(now time.Time) (pps, bps float64) {
	switch s := now.Unix(); {
	case s == f.sec:
		return float64(f.prevP), float64(f.prevB)
	case s == f.sec+1:
		return float64(f.secP), float64(f.secB)
	}
	return 0, 0
}

// Arrival is what one packet did to its flow.
type Arrival struct {
	Flow    *FlowStats
	Gap     time.Duration // since the flow's previous packet; 0 for its first
	Usual   time.Duration // the usual interval before this packet (when Unusual)
	Unusual bool          // Gap is unusual under the table's GapRule
}

// FlowTable follows flows from "flow" and "packets" events, with bounded
// memory. The zero value is not ready: use NewFlowTable.
type FlowTable struct {
	Rule  GapRule
	max   int
	flows map[uint32]*FlowStats
	Last  time.Time // latest packet time seen
}

func NewFlowTable(max int) *FlowTable {
	return &FlowTable{Rule: DefaultGapRule, max: max, flows: map[uint32]*FlowStats{}}
}

// Len is how many flows are tracked.
func (t *FlowTable) Len() int { return len(t.flows) }

// Flows lists the tracked flows, unordered.
func (t *FlowTable) Flows() []*FlowStats {
	out := make([]*FlowStats, 0, len(t.flows))
	for _, f := range t.flows {
		out = append(out, f)
	}
	return out
}

// Get returns a tracked flow.
func (t *FlowTable) Get(id uint32) *FlowStats { return t.flows[id] }

// Reset forgets everything (time went back: another recording, a seek).
func (t *FlowTable) Reset() { clear(t.flows); t.Last = time.Time{} }

// Observe applies a flow or packets event; fn, if not nil, sees every packet.
func (t *FlowTable) Observe(ev event.Event, fn func(p Packet, a Arrival)) {
	if fi, ok := AsFlowInfo(ev); ok {
		t.entry(fi.ID, ev.Time).Info = *fi
		return
	}
	b, ok := AsPacketBatch(ev)
	if !ok {
		return
	}
	b.Each(func(p Packet) {
		a := t.Add(p, b.Iface)
		if fn != nil {
			fn(p, a)
		}
	})
}

func (t *FlowTable) entry(id uint32, at time.Time) *FlowStats {
	f := t.flows[id]
	if f == nil {
		if len(t.flows) >= t.max {
			t.evict()
		}
		f = &FlowStats{Info: FlowInfo{ID: id}, Last: at}
		t.flows[id] = f
	}
	return f
}

// Add counts one packet of a flow seen on iface.
func (t *FlowTable) Add(p Packet, iface string) Arrival {
	if !t.Last.IsZero() && p.Time.Before(t.Last.Add(-time.Second)) {
		t.Reset() // more than a little out of order: another capture
	}
	f := t.entry(p.Flow, p.Time)
	if f.Info.Iface == "" {
		f.Info.Iface = iface
	}
	a := Arrival{Flow: f}
	if f.Packets > 0 {
		a.Gap = max(p.Time.Sub(f.Last), 0)
		if a.Gap >= t.Rule.MinExtra {
			if usual, periodic := f.Usual(t.Rule); periodic &&
				float64(a.Gap) >= t.Rule.Factor*float64(usual) && a.Gap-usual >= t.Rule.MinExtra {
				a.Usual, a.Unusual = usual, true
			}
		}
		f.ivals[f.pos] = a.Gap
		f.pos = (f.pos + 1) % gapWindow
		f.nIval++
		f.MaxGap = max(f.MaxGap, a.Gap)
	} else {
		f.First = p.Time
	}
	f.Packets++
	f.Bytes += uint64(p.Len)
	if p.Flags&FlagSYN != 0 {
		f.SYN++
	}
	if p.Flags&FlagFIN != 0 {
		f.FIN++
	}
	if p.Flags&FlagRST != 0 {
		f.RST++
	}
	if s := p.Time.Unix(); s != f.sec {
		f.prevP, f.prevB = 0, 0
		if s == f.sec+1 {
			f.prevP, f.prevB = f.secP, f.secB
		}
		f.sec, f.secP, f.secB = s, 0, 0
	}
	f.secP++
	f.secB += uint64(p.Len)
	f.Last = p.Time
	if p.Time.After(t.Last) {
		t.Last = p.Time
	}
	return a
}

// evict forgets the idlest eighth of the flows in one pass.
func (t *FlowTable) evict() {
	last := make([]time.Time, 0, len(t.flows))
	for _, f := range t.flows {
		last = append(last, f.Last)
	}
	slices.SortFunc(last, func(a, b time.Time) int { return a.Compare(b) })
	cut := last[len(last)/8]
	for id, f := range t.flows {
		if !f.Last.After(cut) {
			delete(t.flows, id)
		}
	}
}
