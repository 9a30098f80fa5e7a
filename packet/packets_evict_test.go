package packet

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// flowCounts are the points BenchmarkFlowTableNewFlow and
// BenchmarkCaptureNewFlow measure at: well under the tables' caps, just
// past them, and long past them.
var flowCounts = []int{100, 10_000, 1_000_000}

// BenchmarkFlowTableNewFlow is what one more distinct flow costs a
// FlowTable (the detectors', the summary's, the pane's) that has already
// seen n: adding the millionth must cost what adding the hundredth does
// (an O(1) eviction), where sorting every flow each time the table filled
// made it cost far more.
func BenchmarkFlowTableNewFlow(b *testing.B) {
	for _, n := range flowCounts {
		b.Run(fmt.Sprintf("after=%d", n), func(b *testing.B) {
			us := int64(1_000_000_000_000)
			var tab *FlowTable
			id := uint32(0)
			fill := func() {
				tab, id = NewFlowTable(MaxTrackedFlows), 0
				tab.WatchSilence = true
				for range n {
					id++
					us++
					tab.Add(Packet{Time: time.UnixMicro(us), Flow: id, Len: 60}, "eth0")
				}
			}
			fill()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				// Below the cap the table would grow past n: start again
				// every n flows, so each op adds the (n+1)th to 2nth.
				if n < MaxTrackedFlows && i%n == 0 && i > 0 {
					b.StopTimer()
					fill()
					b.StartTimer()
				}
				id++
				us++
				tab.Add(Packet{Time: time.UnixMicro(us), Flow: id, Len: 60}, "eth0")
			}
		})
	}
}

// BenchmarkCaptureNewFlow is the capture's per-packet cost when every
// packet is a flow it has not seen, after n distinct flows: decode, the
// flow table with its eviction and id, the "flow" event, the batch. The
// flows come 2 ms apart, under StormNewFlows a second, so each is taken
// into the table (BenchmarkCaptureStorm is the flood).
func BenchmarkCaptureNewFlow(b *testing.B) {
	for _, n := range flowCounts {
		b.Run(fmt.Sprintf("after=%d", n), func(b *testing.B) {
			pkt := udpFrame(b, 1)
			us := int64(1_000_000_000_000)
			var bt *Batcher
			k := uint32(0)
			send := func() {
				k++
				us += 2e6 / StormNewFlows
				pkt[26], pkt[27], pkt[28], pkt[29] = byte(k>>24), byte(k>>16), byte(k>>8), byte(k) // the source address
				bt.AddUs(pkt, us, uint32(len(pkt)), VlanTag{})
			}
			fill := func() {
				bt, k = NewBatcher("eth0", LinkEthernet, NewFlowIDs(), func(event.Event) {}, false), 0
				for range n {
					send()
				}
			}
			fill()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if n < MaxCaptureFlows && i%n == 0 && i > 0 {
					b.StopTimer()
					fill()
					b.StartTimer()
				}
				send()
			}
		})
	}
}

// BenchmarkCaptureStorm is the capture's per-packet cost in a SYN flood
// from random sources, every packet a new flow, 100,000 a second: the
// storm's counting instead of the table.
func BenchmarkCaptureStorm(b *testing.B) {
	bt := NewBatcher("eth0", LinkEthernet, NewFlowIDs(), func(ev event.Event) { ReleaseBatch(ev) }, false)
	bt.Reuse = true
	x := uint32(1)
	pkts := make([][]byte, 4096)
	for i := range pkts {
		x = x*1664525 + 1013904223
		pkts[i] = tcpFrame([4]byte{198, 18, byte(x >> 24), byte(x >> 16)}, victim, uint16(x), 80, FlagSYN)
	}
	us := int64(1_700_000_000) * 1e6
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		us += 10
		p := pkts[i%len(pkts)]
		p[26+2], p[26+3] = byte(i>>8), byte(i) // the low bytes of the source: a new flow
		bt.AddUs(p, us, uint32(len(p)), VlanTag{})
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestFlowTableMemoryIsBounded: a table that has seen half a million
// distinct flows (and a few periodic ones) holds no more than its cap, and
// uses no more memory than once it first filled.
func TestFlowTableMemoryIsBounded(t *testing.T) {
	const max = 4096
	tab := NewFlowTable(max)
	tab.WatchSilence = true
	us := int64(1_000_000_000_000)
	id := uint32(1000)
	add := func(n int) {
		for range n {
			id++
			us += 30
			tab.Add(Packet{Time: time.UnixMicro(us), Flow: id, Len: 60}, "eth0")
			if id%80 == 0 { // 20 heartbeats, each every 48 ms: periodic, spared
				tab.Add(Packet{Time: time.UnixMicro(us), Flow: 1 + id/80%20, Len: 60}, "eth0")
			}
		}
	}
	add(2 * max)
	before := heapInUse()
	add(500_000)
	after := heapInUse()
	if tab.Len() > max {
		t.Errorf("%d flows tracked, cap %d", tab.Len(), max)
	}
	if tab.spared > max/8 || tab.spared == 0 {
		t.Errorf("%d flows spared, want some and at most %d", tab.spared, max/8)
	}
	t.Logf("heap %d KiB once full, %d KiB after 500,000 more flows (%d spared)", before>>10, after>>10, tab.spared)
	if after > before+before/10 {
		t.Errorf("heap grew from %d to %d bytes", before, after)
	}
	// The LRU list holds every flow but the spared ones, once each.
	n := 0
	for f := tab.lru.next; f != &tab.lru; f = f.next {
		if n++; n > tab.Len() || f.spared || tab.flows[f.Info.ID] != f {
			t.Fatalf("LRU list broken at %d", n)
		}
	}
	if n+tab.spared != tab.Len() {
		t.Errorf("%d listed + %d spared, %d tracked", n, tab.spared, tab.Len())
	}
}

// TestCaptureTableChurns: the capture's table under a long churn of new
// and returning flows (more than it holds) keeps every flow it remembers
// findable, its index, ids and LRU list agree, and its memory stays what
// it was once full.
func TestCaptureTableChurns(t *testing.T) {
	ids := NewFlowIDs()
	announced := 0
	b := NewBatcher("eth0", LinkEthernet, ids, func(ev event.Event) {
		if _, ok := ev.Body.(*FlowInfo); ok {
			announced++
		}
	}, false)
	pkt := udpFrame(t, 1)
	us := int64(1_000_000_000_000)
	rng := uint32(1)
	send := func(n int) {
		for range n {
			rng = rng*1664525 + 1013904223
			k := rng >> 12            // 2^20 flows, drawn at random: some come back
			us += 2e6 / StormNewFlows // not a storm: every flow is remembered
			pkt[26], pkt[27], pkt[28] = byte(k>>16), byte(k>>8), byte(k)
			b.AddUs(pkt, us, uint32(len(pkt)), VlanTag{})
			if len(b.Batch.Flow) >= 4096 {
				b.Flush()
			}
		}
	}
	send(2 * MaxCaptureFlows)
	before := heapInUse()
	send(400_000)
	after := heapInUse()
	t.Logf("heap %d KiB once full, %d KiB after 400,000 more packets; %d flows announced", before>>10, after>>10, announced)
	if after > before+before/10 {
		t.Errorf("heap grew from %d to %d bytes", before, after)
	}
	if b.index.n != MaxCaptureFlows || len(b.slots) != MaxCaptureFlows+1 || ids.live.n != MaxCaptureFlows {
		t.Fatalf("index %d, slots %d, ids %d; want %d each", b.index.n, len(b.slots)-1, ids.live.n, MaxCaptureFlows)
	}
	seen := map[int32]bool{}
	for si := b.slots[0].next; si != 0; si = b.slots[si].next {
		s := &b.slots[si]
		if seen[si] || b.find(&s.key, s.hash) != si || !ids.live.has(s.id) {
			t.Fatalf("slot %d: listed twice, not found by its key, or its id %d not held", si, s.id)
		}
		seen[si] = true
	}
	if len(seen) != MaxCaptureFlows {
		t.Errorf("%d slots in the LRU list, want %d", len(seen), MaxCaptureFlows)
	}
}

// TestIDSetAgreesWithAMap: random adds and removes leave the open
// addressing set holding exactly what a map holds.
func TestIDSetAgreesWithAMap(t *testing.T) {
	var s idSet
	want := map[uint32]bool{}
	x := uint32(7)
	for i := range 200_000 {
		x = x*1664525 + 1013904223
		id := x % 5000 // small range: many collisions and next-free steps
		if i%2 == 0 && len(want) > 0 {
			s.remove(id)
			delete(want, id)
			continue
		}
		got := s.addFree(id)
		if want[got] || got == 0 || got < id && id != 0 {
			t.Fatalf("addFree(%d) gave %d", id, got)
		}
		want[got] = true
	}
	if s.n != len(want) {
		t.Fatalf("set of %d, map of %d", s.n, len(want))
	}
	for id := range want {
		if !s.has(id) {
			t.Fatalf("%d lost", id)
		}
	}
}
