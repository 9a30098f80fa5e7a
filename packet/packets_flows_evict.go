package packet

import (
	"container/heap"
	"math"
	"time"
)

// The FlowTable's eviction: an LRU list, with periodic flows spared.

// Eviction is one flow at a time from an LRU list: each packet of a flow
// other than the previous packet's moves it to the latest end (six pointer
// writes), and a new flow in a full table takes the place of the flow at
// the idlest end. Both are O(1) whatever the number of flows. The table
// used to sort every flow's last-seen time each time it filled and forget
// the idlest eighth: under a flood of new flows (a SYN flood, a port scan)
// that sort was 40% of the capture's CPU. An LRU list rather than CLOCK or
// generation buckets because it evicts exactly what the sort did (the
// flow idle longest), so which flows the detectors and panes keep did not
// change, and the list costs nothing for a run of one flow, which is most
// of a flood's packets.
//
// Periodic flows are spared: a period takes a few intervals to learn
// (seconds for a 1 s heartbeat), and a flood of other flows, each newer
// than the heartbeat's last packet, would otherwise push it out every
// second, so it would never have one. At most an eighth of the cap is
// spared, the first to become periodic (a VRRP advert or a BFD session that
// ran before a flood keeps its place against the flood's own flows, were
// they periodic too: one sender going round its ports); a place that frees
// up, when a spared flow stops being periodic or is renamed, goes to the
// next periodic flow to send. Spared flows are off the LRU list, so the
// list always holds at least seven eighths of a full table. The capture
// keeps a flow's id across its own evictions, so a spared flow is still
// the same flow when it sends again.

// spare moves f on or off the spared set after its periodicity was judged.
func (t *FlowTable) spare(f *FlowStats) {
	switch {
	case f.periodic && !f.spared && t.spared < t.max/8:
		f.unlink()
		f.spared = true
		t.spared++
	case !f.periodic && f.spared:
		f.spared = false
		t.spared--
		t.pushLatest(f)
	}
}

// evictOne forgets the idlest flow that is not spared and returns its
// memory for reuse, or nil if there is none.
func (t *FlowTable) evictOne() *FlowStats {
	f := t.lru.next
	if f == &t.lru {
		return nil
	}
	t.drop(f)
	return f
}

// usDuration converts µs to a Duration, saturating: the packets of two
// batches of a hostile file can be millennia apart, which in nanoseconds
// would wrap.
func usDuration(us int64) time.Duration {
	const lim = int64(math.MaxInt64 / time.Microsecond)
	return time.Duration(min(max(us, -lim), lim)) * time.Microsecond
}

// drop forgets one tracked flow.
func (t *FlowTable) drop(f *FlowStats) {
	t.unwatch(f)
	f.unlink()
	if f.spared {
		f.spared = false
		t.spared--
	}
	delete(t.flows, f.Info.ID)
}

// unwatch takes a flow out of its silence heap.
func (t *FlowTable) unwatch(f *FlowStats) {
	if f.heapAt != 0 {
		if h := t.silence[f.Info.Iface]; h != nil {
			heap.Remove(h, f.heapAt-1)
		}
		f.heapAt = 0
	}
}
