package packet

import (
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
)

// MaxTrackedFlows caps a FlowTable; past it the idlest flow is evicted for
// each new one, sparing up to an eighth of the cap that are periodic (see
// evictOne).
const MaxTrackedFlows = 8192

// gapWindow is how many recent intervals between bursts give a flow's usual
// interval (their median). A power of two: the ring index is masked.
const gapWindow = 16

var _ [0]struct{} = [gapWindow & (gapWindow - 1)]struct{}{}

// GapRule says when a flow's silence is a finding: the flow must be
// periodic, and the silence at least Factor times the usual interval and
// MinExtra longer than it. A 1 s VRRP advert arriving 3.5 s late fires; one
// lost advert (2 s), or pauses in bulk or interactive traffic (never
// periodic) do not.
//
// Intervals are measured between bursts: packets less than BurstGap apart
// are one burst, and a flow's interval is from the start of one burst to
// the start of the next. A flow that sends 30 packets every 0.5 s has a
// usual interval of 0.5 s, not the microseconds inside a burst, and a flood
// or a bulk transfer (one endless burst) has none at all.
//
// Periodic is at least MinIntervals of the last 16 intervals, all but one
// in eight within Tolerance of their median. Random traffic must not pass
// by chance: a flood over 12,000 ports gives each port a random (Poisson)
// flow, and a test on the middle half of 4 intervals within 0.5× of the
// median (the first rule) passed about one window in ten of those, so
// dozens of flood flows had "gaps". Under this rule one window of 8 in
// 4,000 passes, and of 12 none in 2 million; a heartbeat with ±10 %
// jitter and a lost packet, or BFD's 0–25 % jitter, always passes. The
// price is 12 intervals to learn a period: 12 s for a 1 s heartbeat.
type GapRule struct {
	Factor       float64
	MinExtra     time.Duration
	MinIntervals int
	Tolerance    float64
	BurstGap     time.Duration
}

// DefaultGapRule is the rule the detector and the pane use. BurstGap is
// 30 ms: a 20 ms RTP stream is one long burst (a call that ends is not a
// missing heartbeat), a 10 Hz heartbeat or BFD at 50 ms has its period.
var DefaultGapRule = GapRule{Factor: 2.5, MinExtra: 250 * time.Millisecond, MinIntervals: 12, Tolerance: 0.25,
	BurstGap: 30 * time.Millisecond}

// Threshold is how long a flow whose usual interval is usual must be
// silent for the silence to be a gap.
func (r GapRule) Threshold(usual time.Duration) time.Duration {
	return usDuration(r.thresholdUs(usual.Microseconds()))
}

func (r GapRule) thresholdUs(usual int64) int64 {
	return max(int64(r.Factor*float64(usual)), usual+r.MinExtra.Microseconds())
}

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
	burstUs                   int64            // when the current burst began, µs
	ivals                     [gapWindow]int64 // recent intervals between burst starts, µs, a ring
	nIval, pos                int
	usualUs                   int64 // median of ivals under the table's rule, kept as the ring changes
	periodic                  bool  // ivals are regular under the table's rule
	periodicUs                int64 // when it last became periodic
	ended                     bool  // TCP: a FIN or RST came after the last SYN
	silent                    bool  // Overdue reported its silence; cleared by its next packet
	heapAt                    int   // 1 + index in its interface's silence heap; 0 when not in it
	sec, secUs                int64 // Unix second of the current rate bucket, and its start in µs
	secP, secB                uint64
	prevP                     uint64 // the bucket before, if it was sec-1
	prevB                     uint64
	touched                   bool       // in the table's list of flows to bring up to date
	spared                    bool       // periodic, and one of the table's spared flows: not in the LRU list
	prev, next                *FlowStats // the table's LRU list, idlest first; nil when spared
}

// Usual is the median of the recent intervals between bursts, and whether
// the flow looks periodic under r.
func (f *FlowStats) Usual(r GapRule) (time.Duration, bool) {
	us, periodic := f.median(r)
	return usDuration(us), periodic
}

func (f *FlowStats) median(r GapRule) (int64, bool) {
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
	tol, off := int64(r.Tolerance*float64(med)), 0
	for _, v := range iv[:n] {
		if v < med-tol || v > med+tol {
			off++
		}
	}
	return med, off <= n/8
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

// Periodic is whether the flow's intervals between bursts are regular
// under the table's rule, as of its last packet.
func (f *FlowStats) Periodic() bool { return f.periodic }

// Closed is whether the flow is a TCP connection that sent a FIN or RST
// after its last SYN: its silence since is no gap.
func (f *FlowStats) Closed() bool { return f.ended }

// Arrival is what one packet did to its flow.
type Arrival struct {
	Flow    *FlowStats
	Gap     time.Duration // since the flow's previous packet; 0 for its first
	Usual   time.Duration // the usual interval before this packet (when Unusual or Silent)
	Unusual bool          // Gap is unusual under the table's GapRule
	Silent  bool          // Overdue had reported the flow silent: this packet ends that
	New     bool          // the first packet the table counts for this flow (new, or back after eviction)
}

// FlowTable follows flows from "flow" and "packets" events, with bounded
// memory. The zero value is not ready: use NewFlowTable.
//
// A *FlowStats the table hands out is valid until the table evicts that
// flow: the table reuses an evicted flow's memory for the next new one.
//
// A flow id names one 5-tuple (with its VLANs and interface) for the whole
// capture, whatever the capture's own table does (see batcher), so a flow
// keeps its learned period here as long as it stays in the table; a "flow"
// event naming a tracked id with another 5-tuple starts that id afresh.
type FlowTable struct {
	Rule  GapRule
	max   int
	flows map[uint32]*FlowStats
	Last  time.Time // latest packet time seen
	// WatchSilence keeps, per interface, the periodic flows in order of
	// when they become overdue, for Overdue. Set it before the first event.
	WatchSilence bool
	// Resets counts the times the table forgot everything because time
	// went back (another capture): a user's own state about flows is stale.
	Resets int

	lastUs  int64
	seen    bool         // lastUs is set
	touched []*FlowStats // flows whose time fields are behind
	silence map[string]*silenceHeap
	lru     FlowStats // the LRU list's sentinel: lru.next is the idlest flow, lru.prev the latest
	spared  int       // flows spared eviction (periodic); at most max/8
}

func NewFlowTable(max int) *FlowTable {
	t := &FlowTable{Rule: DefaultGapRule, max: max, flows: map[uint32]*FlowStats{}}
	t.lru.prev, t.lru.next = &t.lru, &t.lru
	return t
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
	clear(t.silence)
	t.Last, t.lastUs, t.seen, t.touched = time.Time{}, 0, false, t.touched[:0]
	t.lru.prev, t.lru.next, t.spared = &t.lru, &t.lru, 0
	t.Resets++
}

// Observe applies a flow or packets event; fn, if not nil, sees every packet
// of a flow (not those of flow 0, a flow storm's: see Storm).
func (t *FlowTable) Observe(ev event.Event, fn func(p Packet, a Arrival)) {
	t.observe(ev, fn, false)
}

// ObserveNotable is Observe with fn called only for the packets a detector
// looks at: those with a RST flag, an unusual gap, the end of a silence
// Overdue reported, or a flow's first. Every other packet costs a few
// nanoseconds, which matters at flood rates.
func (t *FlowTable) ObserveNotable(ev event.Event, fn func(p Packet, a Arrival)) {
	t.observe(ev, fn, true)
}

func (t *FlowTable) observe(ev event.Event, fn func(p Packet, a Arrival), notable bool) {
	if fi, ok := event.As[FlowInfo](ev); ok {
		f := t.entry(fi.ID, ev.Time.UnixMicro())
		switch {
		case (f.Info.Src != "" || f.Info.Dst != "") && !sameFlow(f.Info, *fi):
			// The id now names another flow (two 5-tuples hashed alike, and
			// the capture moved one): what was learned belongs to the old one.
			t.drop(f)
			f = t.entry(fi.ID, ev.Time.UnixMicro())
		case f.Info.Iface != fi.Iface:
			t.unwatch(f) // its silence heap is another interface's
		}
		f.Info = *fi
		return
	}
	b, ok := event.As[PacketBatch](ev)
	if !ok {
		return
	}
	us := b.Start.UnixMicro()
	burstGap := t.Rule.BurstGap.Microseconds()
	var f *FlowStats
	for i := range b.N() {
		us += b.DtUs[i]
		// The common case, done here without a call: the same flow as the
		// packet before, within its burst, no SYN, FIN or RST, the same
		// second. It does exactly what add does then
		// (TestFlowTableWalkMatchesAdd).
		if f != nil && f.Info.ID == b.Flow[i] && f.Packets > 0 && !f.silent && (fn == nil || notable) {
			gap, fl, n := us-f.lastUs, b.Flags[i], uint64(b.Len[i])
			if gap >= 0 && gap < burstGap && fl&(FlagSYN|FlagFIN|FlagRST) == 0 &&
				us >= f.secUs && us < f.secUs+1e6 && us >= t.lastUs-int64(time.Second/time.Microsecond) {
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
		if b.Flow[i] == 0 {
			// A flow storm's packet (see Storm): no flow to follow.
			if !t.seen || us > t.lastUs {
				t.lastUs, t.seen = us, true
			}
			continue
		}
		if id := b.Flow[i]; f == nil || f.Info.ID != id {
			f = t.flow(id, us, b.Iface)
		}
		a := t.add(f, us, b.Flags[i], b.Len[i])
		if fn != nil && (!notable || a.Unusual || a.Silent || a.New || b.Flags[i]&FlagRST != 0) {
			a.Flow = f
			fn(Packet{Time: time.UnixMicro(us), Flow: b.Flow[i], Flags: b.Flags[i], Len: b.Len[i]}, a)
		}
	}
	t.sync()
}

// flow is the tracked flow id (named on iface if nothing named it yet),
// queued to have its time fields brought up to date, and now the latest in
// the LRU list: a packet is about to be counted.
func (t *FlowTable) flow(id uint32, us int64, iface string) *FlowStats {
	f := t.entry(id, us)
	if f.Info.Iface == "" {
		f.Info.Iface = iface
	}
	if !f.spared && t.lru.prev != f {
		f.unlink()
		t.pushLatest(f)
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
		var old *FlowStats
		if len(t.flows) >= max(t.max, 1) {
			old = t.evictOne()
		}
		if old == nil {
			old = &FlowStats{}
		}
		*old = FlowStats{Info: FlowInfo{ID: id}, lastUs: us, Last: time.UnixMicro(us)}
		f = old
		t.flows[id] = f
		t.pushLatest(f)
	}
	return f
}

// pushLatest puts f at the latest end of the LRU list.
func (t *FlowTable) pushLatest(f *FlowStats) {
	f.prev, f.next = t.lru.prev, &t.lru
	t.lru.prev.next = f
	t.lru.prev = f
}

// unlink takes f out of the LRU list, if it is in it.
func (f *FlowStats) unlink() {
	if f.prev != nil {
		f.prev.next, f.next.prev = f.next, f.prev
		f.prev, f.next = nil, nil
	}
}

// Add counts one packet of a flow seen on iface. A packet of flow 0 (a
// flow storm's) moves the table's clock only, and has no Arrival.Flow.
func (t *FlowTable) Add(p Packet, iface string) Arrival {
	us := p.Time.UnixMicro()
	if t.seen && us < t.lastUs-int64(time.Second/time.Microsecond) {
		t.Reset()
	}
	if p.Flow == 0 {
		if !t.seen || us > t.lastUs {
			t.lastUs, t.seen = us, true
		}
		t.sync()
		return Arrival{}
	}
	f := t.flow(p.Flow, us, iface)
	a := t.add(f, us, p.Flags, p.Len)
	t.sync()
	a.Flow = f
	return a
}

// add counts one packet at us (µs) of flow f: the gap since the flow's
// previous packet, and whether it is unusual or ends a reported silence
// (with the usual interval). Arrival.Flow is left for the caller.
func (t *FlowTable) add(f *FlowStats, us int64, flags uint8, length uint32) Arrival {
	var a Arrival
	if f.Packets > 0 {
		gap := max(us-f.lastUs, 0)
		a.Gap = usDuration(gap)
		if gap >= t.Rule.BurstGap.Microseconds() {
			// A new burst. Its silence is unusual if the flow was periodic
			// (and not a TCP connection that had closed).
			if f.periodic && !f.ended && gap >= t.Rule.thresholdUs(f.usualUs) {
				a.Unusual = true
			}
			f.ivals[f.pos] = us - f.burstUs
			f.pos = (f.pos + 1) & (gapWindow - 1)
			f.nIval++
			f.burstUs = us
			a.Usual = usDuration(f.usualUs)
			was := f.periodic
			if f.usualUs, f.periodic = f.median(t.Rule); f.periodic && !was {
				f.periodicUs = us
			}
			t.spare(f)
		}
		f.maxGapUs = max(f.maxGapUs, gap)
	} else {
		f.firstUs, f.burstUs = us, us
		a.New = true
	}
	if f.silent {
		a.Silent, f.silent = true, false
	}
	f.Packets++
	f.Bytes += uint64(length)
	if flags&(FlagSYN|FlagFIN|FlagRST) != 0 {
		if flags&FlagSYN != 0 {
			f.SYN++
			f.ended = false
		}
		if flags&FlagFIN != 0 {
			f.FIN++
			f.ended = true
		}
		if flags&FlagRST != 0 {
			f.RST++
			f.ended = true
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
	if t.WatchSilence && f.periodic && !f.ended && f.heapAt == 0 {
		t.watch(f)
	}
	return a
}

// floorDiv is a/b rounded down, as time.Time.Unix rounds a time before 1970.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}
