package packet

import (
	"container/heap"
	"time"
)

// The FlowTable's silence watch: which periodic flows are overdue, kept in a heap by due time.

// sameFlow is whether two names are the same flow.
func sameFlow(a, b FlowInfo) bool {
	return a.Iface == b.Iface && a.Proto == b.Proto && a.Src == b.Src && a.Dst == b.Dst &&
		a.VLAN == b.VLAN && a.InnerVLAN == b.InnerVLAN
}

// Overdue calls fn for each periodic flow on iface that has been silent
// for at least the rule's threshold at now (µs): everything the interface
// carried before now has been seen, so the silence is real. A flow is
// reported once per silence; its next packet's Arrival has Silent set.
// Flows that are not periodic, TCP connections that closed, and flows on
// other interfaces are left alone. Needs WatchSilence; costs O(log n) per
// flow that comes due, nothing for the others.
func (t *FlowTable) Overdue(iface string, nowUs int64, fn func(f *FlowStats, silence time.Duration)) {
	h := t.silence[iface]
	if h == nil {
		return
	}
	for len(h.at) > 0 && h.at[0].due <= nowUs {
		f := heap.Pop(h).(*FlowStats)
		if !f.periodic || f.ended {
			continue // back in when a packet makes it periodic again
		}
		if due := f.lastUs + t.Rule.thresholdUs(f.usualUs); due > nowUs {
			heap.Push(h, dueFlow{due: due, f: f}) // it sent since it went in
			continue
		}
		f.silent = true
		fn(f, usDuration(nowUs-f.lastUs))
	}
}

// watch puts a periodic flow in its interface's silence heap.
func (t *FlowTable) watch(f *FlowStats) {
	if t.silence == nil {
		t.silence = map[string]*silenceHeap{}
	}
	h := t.silence[f.Info.Iface]
	if h == nil {
		h = &silenceHeap{}
		t.silence[f.Info.Iface] = h
	}
	heap.Push(h, dueFlow{due: f.lastUs + t.Rule.thresholdUs(f.usualUs), f: f})
}

// dueFlow is a flow and when it becomes overdue if it sends nothing more.
// A flow's packets only move that later, so the heap is not touched per
// packet: Overdue looks again when an entry comes due.
type dueFlow struct {
	due int64
	f   *FlowStats
}

// silenceHeap is a min-heap of dueFlows; each flow is in it at most once,
// and knows where (FlowStats.heapAt), so an evicted flow leaves it at once.
type silenceHeap struct{ at []dueFlow }

func (h *silenceHeap) Len() int           { return len(h.at) }
func (h *silenceHeap) Less(i, j int) bool { return h.at[i].due < h.at[j].due }
func (h *silenceHeap) Swap(i, j int) {
	h.at[i], h.at[j] = h.at[j], h.at[i]
	h.at[i].f.heapAt, h.at[j].f.heapAt = i+1, j+1
}
func (h *silenceHeap) Push(x any) {
	d := x.(dueFlow)
	d.f.heapAt = len(h.at) + 1
	h.at = append(h.at, d)
}
func (h *silenceHeap) Pop() any {
	d := h.at[len(h.at)-1]
	h.at = h.at[:len(h.at)-1]
	d.f.heapAt = 0
	return d.f
}
