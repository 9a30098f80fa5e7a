package findings

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// BenchmarkPacketsDetector is the detectors' per-packet cost on a flood:
// one flow, 16384 packets per batch 5 µs apart.
func BenchmarkPacketsDetector(b *testing.B) {
	const n = 16384
	batch := &packet.PacketBatch{Iface: "lo", Start: t0, DtUs: make([]int64, n), Flow: make([]uint32, n),
		Flags: make(packet.ByteNums, n), Len: make([]uint32, n)}
	for i := range n {
		batch.DtUs[i], batch.Flow[i], batch.Len[i] = 5, 1, 106
	}
	d := NewPackets()
	d.Observe(event.New(t0, "packets", &packet.FlowInfo{ID: 1, Iface: "lo", Proto: "udp", Src: "127.0.0.1:1", Dst: "127.0.0.1:2"}))
	b.ResetTimer()
	for i := 0; i < b.N; i += n {
		batch.Start = t0.Add(time.Duration(i) * 5 * time.Microsecond)
		d.Observe(event.New(batch.Start, "packets", batch))
	}
}
