package probes

import (
	"math"
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
)

// MaxTrackedFlows caps a FlowTable; past it the idlest eighth is evicted.
const MaxTrackedFlows = 8192

// gapWindow is how many recent inter-arrival intervals give a flow's usual
// interval (their median). A power of two: the ring index is masked.
const gapWindow = 16

var _ [0]struct{} = [gapWindow & (gapWindow - 1)]struct{}{}

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
// First, Last and MaxGap are brought up to date when Observe or Add
// returns (the walk itself keeps microseconds).
type FlowStats struct {
	Info           FlowInfo
	First, Last    time.Time
	Packets, Bytes uint64
	SYN, FIN, RST  uint64
	MaxGap         time.Duration

	firstUs, lastUs, maxGapUs int64
	ivals                     [gapWindow]int64 // recent inter-arrival intervals, µs, a ring
	nIval, pos                int
	sec, secUs                int64 // Unix second of the current rate bucket, and its start in µs
	secP, secB                uint64
	prevP                     uint64 // the bucket before, if it was sec-1
	prevB                     uint64
	touched                   bool // in the table's list of flows to bring up to date
}

// Usual is the median of the recent intervals, and whether the flow looks
// periodic under r.
func (f *FlowStats) Usual(r GapRule) (time.Duration, bool) {
	us, periodic := f.usualUs(r)
	return usDuration(us), periodic
}

func (f *FlowStats) usualUs(r GapRule) (int64, bool) {
	n := min(f.nIval, gapWindow)
	if n == 0 {
		return 0, false
	}
	var iv [gapWindow]int64
	copy(iv[:], f.ivals[:n])
	slices.Sort(iv[:n])
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

	lastUs  int64
	seen    bool         // lastUs is set
	touched []*FlowStats // flows whose time fields are behind
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
func (t *FlowTable) Reset() {
	clear(t.flows)
	t.Last, t.lastUs, t.seen, t.touched = time.Time{}, 0, false, t.touched[:0]
}

// Observe applies a flow or packets event; fn, if not nil, sees every packet.
func (t *FlowTable) Observe(ev event.Event, fn func(p Packet, a Arrival)) {
	t.observe(ev, fn, false)
}

// ObserveNotable is Observe with fn called only for the packets a detector
// looks at: those with a RST flag or an unusual gap. Every other packet
// costs a few nanoseconds, which matters at flood rates.
func (t *FlowTable) ObserveNotable(ev event.Event, fn func(p Packet, a Arrival)) {
	t.observe(ev, fn, true)
}

func (t *FlowTable) observe(ev event.Event, fn func(p Packet, a Arrival), notable bool) {
	if fi, ok := AsFlowInfo(ev); ok {
		t.entry(fi.ID, ev.Time.UnixMicro()).Info = *fi
		return
	}
	b, ok := AsPacketBatch(ev)
	if !ok {
		return
	}
	us := b.Start.UnixMicro()
	minExtra := t.Rule.MinExtra.Microseconds()
	var f *FlowStats
	for i := range b.N() {
		us += b.DtUs[i]
		// The common case, done here without a call: the same flow as the
		// packet before, a short gap, no SYN, FIN or RST, the same second.
		// It does exactly what add does then (TestFlowTableWalkMatchesAdd).
		if f != nil && f.Info.ID == b.Flow[i] && f.Packets > 0 && (fn == nil || notable) {
			gap, fl, n := us-f.lastUs, b.Flags[i], uint64(b.Len[i])
			if gap >= 0 && gap < minExtra && fl&(FlagSYN|FlagFIN|FlagRST) == 0 &&
				us >= f.secUs && us < f.secUs+1e6 && us >= t.lastUs-int64(time.Second/time.Microsecond) {
				f.ivals[f.pos] = gap
				f.pos = (f.pos + 1) & (gapWindow - 1)
				f.nIval++
				f.maxGapUs = max(f.maxGapUs, gap)
				f.Packets++
				f.Bytes += n
				f.secP++
				f.secB += n
				f.lastUs = us
				t.lastUs = max(t.lastUs, us)
				continue
			}
		}
		if t.seen && us < t.lastUs-int64(time.Second/time.Microsecond) {
			t.Reset() // more than a little out of order: another capture
			f = nil
		}
		if id := b.Flow[i]; f == nil || f.Info.ID != id {
			f = t.flow(id, us, b.Iface)
		}
		gap, usual, unusual := t.add(f, us, b.Flags[i], b.Len[i])
		if fn != nil && (!notable || unusual || b.Flags[i]&FlagRST != 0) {
			p := Packet{Time: time.UnixMicro(us), Flow: b.Flow[i], Flags: b.Flags[i], Len: b.Len[i]}
			fn(p, Arrival{Flow: f, Gap: usDuration(gap),
				Usual: usDuration(usual), Unusual: unusual})
		}
	}
	t.sync()
}

// flow is the tracked flow id (named on iface if nothing named it yet),
// queued to have its time fields brought up to date.
func (t *FlowTable) flow(id uint32, us int64, iface string) *FlowStats {
	f := t.entry(id, us)
	if f.Info.Iface == "" {
		f.Info.Iface = iface
	}
	if !f.touched {
		f.touched = true
		t.touched = append(t.touched, f)
	}
	return f
}

// sync brings the time fields of the flows a walk touched up to date.
func (t *FlowTable) sync() {
	for _, f := range t.touched {
		f.First, f.Last = time.UnixMicro(f.firstUs), time.UnixMicro(f.lastUs)
		f.MaxGap = usDuration(f.maxGapUs)
		f.touched = false
	}
	t.touched = t.touched[:0]
	if t.seen {
		t.Last = time.UnixMicro(t.lastUs)
	}
}

func (t *FlowTable) entry(id uint32, us int64) *FlowStats {
	f := t.flows[id]
	if f == nil {
		if len(t.flows) >= t.max {
			t.evict()
		}
		f = &FlowStats{Info: FlowInfo{ID: id}, lastUs: us, Last: time.UnixMicro(us)}
		t.flows[id] = f
	}
	return f
}

// Add counts one packet of a flow seen on iface.
func (t *FlowTable) Add(p Packet, iface string) Arrival {
	us := p.Time.UnixMicro()
	if t.seen && us < t.lastUs-int64(time.Second/time.Microsecond) {
		t.Reset()
	}
	f := t.flow(p.Flow, us, iface)
	gap, usual, unusual := t.add(f, us, p.Flags, p.Len)
	t.sync()
	return Arrival{Flow: f, Gap: usDuration(gap),
		Usual: usDuration(usual), Unusual: unusual}
}

// add counts one packet at us (µs) of flow f: the gap since the flow's
// previous packet, and whether it is unusual (with the usual interval).
func (t *FlowTable) add(f *FlowStats, us int64, flags uint8, length uint32) (gap, usual int64, unusual bool) {
	if f.Packets > 0 {
		gap = max(us-f.lastUs, 0)
		if gap >= t.Rule.MinExtra.Microseconds() {
			if u, periodic := f.usualUs(t.Rule); periodic &&
				float64(gap) >= t.Rule.Factor*float64(u) && gap-u >= t.Rule.MinExtra.Microseconds() {
				usual, unusual = u, true
			}
		}
		f.ivals[f.pos] = gap
		f.pos = (f.pos + 1) & (gapWindow - 1)
		f.nIval++
		f.maxGapUs = max(f.maxGapUs, gap)
	} else {
		f.firstUs = us
	}
	f.Packets++
	f.Bytes += uint64(length)
	if flags&(FlagSYN|FlagFIN|FlagRST) != 0 {
		if flags&FlagSYN != 0 {
			f.SYN++
		}
		if flags&FlagFIN != 0 {
			f.FIN++
		}
		if flags&FlagRST != 0 {
			f.RST++
		}
	}
	if us < f.secUs || us >= f.secUs+1e6 {
		s := floorDiv(us, 1e6)
		f.prevP, f.prevB = 0, 0
		if s == f.sec+1 {
			f.prevP, f.prevB = f.secP, f.secB
		}
		f.sec, f.secUs, f.secP, f.secB = s, s*1e6, 0, 0
	}
	f.secP++
	f.secB += uint64(length)
	f.lastUs = us
	if !t.seen || us > t.lastUs {
		t.lastUs, t.seen = us, true
	}
	return gap, usual, unusual
}

// floorDiv is a/b rounded down, as time.Time.Unix rounds a time before 1970.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// evict forgets the idlest eighth of the flows in one pass.
func (t *FlowTable) evict() {
	last := make([]int64, 0, len(t.flows))
	for _, f := range t.flows {
		last = append(last, f.lastUs)
	}
	slices.Sort(last)
	cut := last[len(last)/8]
	for id, f := range t.flows {
		if f.lastUs <= cut {
			delete(t.flows, id)
		}
	}
}

// usDuration converts µs to a Duration, saturating: the packets of two
// batches of a hostile file can be millennia apart, which in nanoseconds
// would wrap.
func usDuration(us int64) time.Duration {
	const lim = int64(math.MaxInt64 / time.Microsecond)
	return time.Duration(min(max(us, -lim), lim)) * time.Microsecond
}
