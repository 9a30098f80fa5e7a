package findings

import (
	"fmt"
	"strconv"
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

// BenchmarkCrossHostPackets is the per-packet cost of the packet
// detectors with the cross-host note (ns/op is per packet), for 1 and 3
// hosts: r1 sends 10,000 flows (its capture sees them leave), r2 and r3
// receive them, each host's batches of 16384 packets going round its
// flows, so every packet is another flow's. "layer" is the cross-host
// layer alone (the per-host detectors replaced by one that does nothing):
// what r1's packets cost to keep for the gaps of others; "all" is the
// whole detector, and "per-host" the per-host detectors without the layer.
func BenchmarkCrossHostPackets(b *testing.B) {
	for _, mode := range []string{"layer", "all", "per-host"} {
		for _, hosts := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/hosts=%d", mode, hosts), func(b *testing.B) {
				var d Detector
				switch mode {
				case "layer":
					c := newCrossPackets()
					c.inner = newPerHost(func() Detector { return nopDetector{} })
					d = c
				case "all":
					d = newCrossPackets()
				default:
					d = newPerHost(NewPackets)
				}
				benchHosts(b, d, hosts)
			})
		}
	}
}

type nopDetector struct{}

func (nopDetector) Produces() []string                   { return nil }
func (nopDetector) Observe(ev event.Event) []event.Event { return nil }

func benchHosts(b *testing.B, d Detector, hosts int) {
	const flows, n = 10000, 16384
	var batches []event.Event
	for h := range hosts {
		host := fmt.Sprintf("r%d", h+1)
		iface := fmt.Sprintf("eth%d", h)
		for f := range flows {
			fi := &packet.FlowInfo{ID: uint32(f + 1), Iface: iface, Proto: "udp", Src: "10.1.0.1:" + strconv.Itoa(1000+f),
				Dst: "10.1.0.2:7000", Out: h == 0}
			ev := event.New(t0, "packets", fi)
			ev.Host = host
			d.Observe(ev)
		}
		batch := &packet.PacketBatch{Iface: iface, Start: t0, DtUs: make([]int64, n), Flow: make([]uint32, n),
			Flags: make(packet.ByteNums, n), Len: make([]uint32, n)}
		for i := range n {
			batch.DtUs[i], batch.Flow[i], batch.Len[i] = 5, uint32(i%flows+1), 106
		}
		ev := event.New(t0, "packets", batch)
		ev.Host = host
		batches = append(batches, ev)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += n * hosts {
		for _, ev := range batches {
			pb := ev.Body.(*packet.PacketBatch)
			pb.Start = t0.Add(time.Duration(i/hosts) * 5 * time.Microsecond)
			ev.Time = pb.Start
			d.Observe(ev)
		}
	}
}
