package findings

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// packet.gap is raised while a periodic flow is silent, not when it comes
// back: a VRRP master that died never sends the packet that would have
// shown the gap. The clock is event time, per interface: a batch says that
// every packet of its interface before its first has been seen, and a
// capture_stats event says so up to its Through, once a second even on an
// interface that carries nothing else. Judging a silence by another
// interface's or probe's event time could raise a gap whose end is still
// in a batch on its way.
//
// One condition per silence, keyed by the flow's interface and 5-tuple:
// raised (warn, or critical past the dead timer) once the silence reaches
// the rule's threshold; updated when it turns critical and each time it
// doubles since the last report (a flow dead for an hour gets about ten
// updates, not one a second); cleared with the whole gap when the flow
// sends again, or with the silence so far when the stream ends.

const (
	// statsLag is how far behind its own time a capture_stats event from
	// before Through existed is trusted to have every packet: a batch is
	// sent 250 ms after its first packet, the ring hands over a block
	// within 64 ms.
	statsLag = 350 * time.Millisecond
	// maxOpenGaps bounds the silences followed at once; past it, new ones
	// are not raised until some end.
	maxOpenGaps = 1024
	// maxGapIfaces bounds the per-interface clocks (a capture file has at
	// most 256 interfaces, a live capture 64 by default).
	maxGapIfaces = 1024
)

type gapWatch struct {
	clock  map[string]int64    // per interface: µs before which all its packets are seen
	open   map[uint32]*openGap // by flow id
	count  map[string]int      // gaps so far per key, for Count (×N); bounded
	resets int                 // the flow table's Resets when last looked at
	probe  string              // the probe of the events, for the findings Finish makes
}

// openGap is a silence that was raised and has not ended.
type openGap struct {
	key    string
	info   packet.FlowInfo
	lastUs int64 // the flow's last packet before the silence
	usual  time.Duration
	since  time.Time
	count  int
	sev    event.Severity
	told   time.Duration // the silence the last event reported
}

func newGapWatch() gapWatch {
	return gapWatch{clock: map[string]int64{}, open: map[uint32]*openGap{}, count: map[string]int{}}
}

func gapKey(fi packet.FlowInfo) string {
	return FindingPacketGap + " " + fi.Iface + " " + fi.Proto + " " + fi.String()
}

// gapSeverity: protocols with a dead timer (VRRP, BFD, OSPF hellos) give up
// after about three intervals, so a silence that long is a failover.
func gapSeverity(silence, usual time.Duration) event.Severity {
	if silence >= 3*usual+time.Second/2 {
		return event.Critical
	}
	return event.Warn
}

// advance moves iface's clock to us and raises or updates the silences it
// shows.
func (g *gapWatch) advance(t *packet.FlowTable, probe, iface string, us int64, out []event.Event) []event.Event {
	g.sync(t, &out)
	if prev, ok := g.clock[iface]; ok && us <= prev {
		return out
	}
	if len(g.clock) >= maxGapIfaces {
		if _, ok := g.clock[iface]; !ok {
			return out
		}
	}
	g.clock[iface] = us
	g.probe = probe
	from := len(out)
	t.Overdue(iface, us, func(f *packet.FlowStats, silence time.Duration) {
		usual, _ := f.Usual(t.Rule)
		if o := g.raise(f.Info, f.Last.UnixMicro(), usual, us); o != nil {
			out = append(out, o.event(probe, us, silence, "", false))
		}
	})
	for _, o := range g.open {
		if o.info.Iface != iface {
			continue
		}
		silence := time.Duration(us-o.lastUs) * time.Microsecond
		if sev := gapSeverity(silence, o.usual); sev != o.sev || silence >= 2*o.told {
			o.sev = sev
			out = append(out, o.event(probe, us, silence, event.FindingUpdate, false))
		}
	}
	byTimeAndKey(out[from:]) // heap and map order are not the stream's
	return out
}

// raise opens a silence of flow fi, last heard at lastUs, at us. A flow
// without a name is left alone: a finding names the 5-tuple, never an id.
func (g *gapWatch) raise(fi packet.FlowInfo, lastUs int64, usual time.Duration, us int64) *openGap {
	if fi.Src == "" && fi.Dst == "" || len(g.open) >= maxOpenGaps {
		return nil
	}
	if o := g.open[fi.ID]; o != nil {
		return nil // another flow under this id is silent (see FlowTable); it goes on
	}
	key := gapKey(fi)
	if len(g.count) >= packet.MaxTrackedFlows {
		clear(g.count)
	}
	g.count[key]++
	o := &openGap{key: key, info: fi, lastUs: lastUs, usual: usual, since: time.UnixMicro(us), count: g.count[key]}
	g.open[fi.ID] = o
	return o
}

// arrival looks at a notable packet: the end of a silence, or a gap that
// began and ended between two looks at the clock (within one batch).
func (g *gapWatch) arrival(t *packet.FlowTable, probe string, p packet.Packet, a packet.Arrival, out []event.Event) []event.Event {
	g.sync(t, &out)
	us := p.Time.UnixMicro()
	// The same id is the same flow unless a "flow" event named it anew (an
	// entry back after eviction may have no name yet).
	fi := a.Flow.Info
	if o := g.open[p.Flow]; o != nil && (a.Silent || a.Unusual || a.New) && (fi.Src == "" && fi.Dst == "" || o.key == gapKey(fi)) {
		delete(g.open, p.Flow)
		return append(out, o.event(probe, us, time.Duration(us-o.lastUs)*time.Microsecond, event.FindingCleared, true))
	}
	if !a.Unusual {
		return out
	}
	// The threshold passed inside the batch that ends the silence: raise
	// it when it passed, and clear it now.
	last := us - a.Gap.Microseconds()
	at := last + t.Rule.Threshold(a.Usual).Microseconds()
	if o := g.raise(a.Flow.Info, last, a.Usual, at); o != nil {
		delete(g.open, p.Flow)
		out = append(out, o.event(probe, at, time.Duration(at-last)*time.Microsecond, "", false))
		out = append(out, o.event(probe, us, a.Gap, event.FindingCleared, true))
	}
	return out
}

// sync closes what the flow table's forgetting everything (time went back:
// another capture) leaves behind.
func (g *gapWatch) sync(t *packet.FlowTable, out *[]event.Event) {
	if t.Resets != g.resets {
		g.resets = t.Resets
		*out = append(*out, g.finish()...)
		clear(g.clock)
	}
}

// finish clears every open silence at its interface's clock: the flow
// never came back while stakeout watched.
func (g *gapWatch) finish() []event.Event {
	var out []event.Event
	for id, o := range g.open {
		us := g.clock[o.info.Iface]
		out = append(out, o.event(g.probe, us, time.Duration(us-o.lastUs)*time.Microsecond, event.FindingCleared, false))
		delete(g.open, id)
	}
	byTimeAndKey(out)
	return out
}

func byTimeAndKey(evs []event.Event) {
	slices.SortStableFunc(evs, func(a, b event.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		fa, _ := event.As[event.Finding](a)
		fb, _ := event.As[event.Finding](b)
		return strings.Compare(fa.Key, fb.Key)
	})
}

// event is the finding for o at us in state st, with the silence so far,
// or the whole gap once the flow resumed.
func (o *openGap) event(probe string, us int64, silence time.Duration, st string, resumed bool) event.Event {
	o.sev, o.told = gapSeverity(silence, o.usual), silence
	fi := o.info
	data := PacketGapData{Iface: fi.Iface, Flow: fi.String(), Proto: fi.Proto,
		GapMs: ms(silence), UsualMs: ms(o.usual), Resumed: resumed}
	head := fmt.Sprintf("%s %s %s: ", event.Sanitize(fi.Iface), event.Sanitize(fi.Proto), event.Sanitize(fi.String()))
	var sum string
	switch {
	case resumed:
		sum = fmt.Sprintf("%s without a packet, usually %s; resumed", fmtGap(silence), fmtGap(o.usual))
	case st == event.FindingCleared:
		sum = fmt.Sprintf("no packet for %s, usually %s; still silent when the capture ended", fmtGap(silence), fmtGap(o.usual))
	default:
		sum = fmt.Sprintf("no packet for %s, usually %s; still silent", fmtGap(silence), fmtGap(o.usual))
	}
	f := &event.Finding{Finding: FindingPacketGap, Severity: o.sev, Data: data, Summary: head + sum, Key: o.key, State: st}
	if st != "" {
		f.Since, f.Count = o.since, o.count
	}
	return event.New(time.UnixMicro(us), probe, f)
}

func fmtGap(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
