package probes

import (
	"testing"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testframes"
	"github.com/stakeout/stakeout/packet"
)

// TestReleasedColumnsAreReused: a live capture's next batch is built in
// the columns of one the engine released, the released batch is emptied
// (nobody can read another batch's packets through it), and batches that
// are not a live capture's (a pcap file's) are never taken into the pool.
func TestReleasedColumnsAreReused(t *testing.T) {
	pkt := testframes.VLAN(t)
	var got []event.Event
	ids := packet.NewFlowIDs()
	live := packet.NewBatcher("lo", packet.LinkEthernet, ids, func(ev event.Event) { got = append(got, ev) }, false)
	live.Reuse = true
	batch := func(b *packet.Batcher, n int) *packet.PacketBatch {
		t.Helper()
		got = got[:0]
		for i := range n {
			b.AddUs(pkt, int64(1000+i), uint32(len(pkt)), packet.VlanTag{})
		}
		b.Flush()
		for _, ev := range got {
			if pb, ok := ev.Body.(*packet.PacketBatch); ok {
				return pb
			}
		}
		t.Fatal("no batch")
		return nil
	}
	first := batch(live, 100)
	if first.N() != 100 {
		t.Fatalf("first batch has %d packets", first.N())
	}
	col := &first.Flow[:1][0]
	packet.ReleaseBatch(event.New(first.Start, packet.PacketsName, first))
	if first.N() != 0 || first.Flow != nil || first.DtUs != nil {
		t.Errorf("released batch still has columns: %+v", first)
	}
	// sync.Pool may drop what it holds at a GC; without one in between it
	// hands back what was put.
	second := batch(live, 100)
	if &second.Flow[:1][0] != col {
		t.Errorf("the next batch did not reuse the released columns")
	}
	if second.N() != 100 || second.Len[99] != uint32(len(pkt)) {
		t.Errorf("reused columns hold %d packets", second.N())
	}
	// A file's batcher: release leaves its batch intact and pools nothing.
	file := packet.NewBatcher("pcap", packet.LinkEthernet, ids, func(ev event.Event) { got = append(got, ev) }, false)
	fb := batch(file, 10)
	packet.ReleaseBatch(event.New(fb.Start, packet.PacketsName, fb))
	if fb.N() != 10 {
		t.Errorf("a file's batch was emptied by ReleaseBatch: %d packets left", fb.N())
	}
	third := batch(live, 10)
	if &third.Flow[:1][0] == &fb.Flow[:1][0] {
		t.Errorf("a file's batch columns went into the pool")
	}
}
