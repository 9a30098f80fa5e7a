package packet

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testframes"
	"github.com/stakeout/stakeout/sessions"
)

// BenchmarkCapturePath is the per-packet work of a live capture after the
// ring: decode, flow lookup, batch append (the bench's 64-byte UDP flood).
func BenchmarkCapturePath(b *testing.B) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(127, 0, 0, 1), DstIP: net.IPv4(127, 0, 0, 1)}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 9999}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true},
		&layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: testframes.MacB, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(make([]byte, 64)))
	pkt := buf.Bytes()
	ids := NewFlowIDs()
	bt := NewBatcher("lo", LinkEthernet, ids, func(event.Event) {}, false)
	us := time.Now().UnixMicro()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		bt.AddUs(pkt, us+int64(i)*5, uint32(len(pkt)), VlanTag{})
	}
}

// BenchmarkRecordFlood is what recording costs per packet of the bench's
// flood (one flow, 64-byte datagrams 3-5 µs apart): the batch encoded and
// compressed by the real session writer.
func BenchmarkRecordFlood(b *testing.B) {
	w, err := sessions.Create(filepath.Join(b.TempDir(), "f.stk"), sessions.Header{}, sessions.WriterOptions{FlushEvery: -1, MaxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	pb := &PacketBatch{Iface: "lo", Start: at}
	for i := range BatchMax {
		pb.DtUs = append(pb.DtUs, int64(3+i%3))
		pb.Flow = append(pb.Flow, 1)
		pb.Flags = append(pb.Flags, 0)
		pb.Len = append(pb.Len, 106)
	}
	ev := event.New(at, PacketsName, pb)
	b.ResetTimer()
	for i := 0; i < b.N; i += BatchMax {
		w.Write(ev)
		w.Flush()
	}
}
