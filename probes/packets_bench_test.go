package probes

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stakeout/stakeout/event"
)

// BenchmarkCapturePath is the per-packet work of a live capture after the
// ring: decode, flow lookup, batch append (the bench's 64-byte UDP flood).
func BenchmarkCapturePath(b *testing.B) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(127, 0, 0, 1), DstIP: net.IPv4(127, 0, 0, 1)}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 9999}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true},
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(make([]byte, 64)))
	pkt := buf.Bytes()
	var ids atomic.Uint32
	bt := newBatcher("lo", linkEthernet, &ids, func(event.Event) {}, false)
	at := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		bt.add(pkt, at.Add(time.Duration(i)*5*time.Microsecond), uint32(len(pkt)))
	}
}
