package probes

import (
	"bytes"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stakeout/stakeout/event"
)

// TestPcapWriterRebuildsHeaders: a header-only TCP RST and a UDP packet come
// back from the pcap with their ends, flags and original lengths.
func TestPcapWriterRebuildsHeaders(t *testing.T) {
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range []FlowInfo{
		{ID: 1, Iface: "eth0", Proto: "tcp", Src: "10.0.0.2:8080", Dst: "10.0.0.1:40000"},
		{ID: 2, Iface: "eth0", Proto: "udp", Src: "[fe80::1]:5353", Dst: "[ff02::fb]:5353"},
	} {
		w.Observe(event.New(at, "packets", &fi))
	}
	w.Observe(event.New(at, "packets", &PacketBatch{Iface: "eth0", Start: at, DtUs: []int64{0, 1500},
		Flow: []uint32{1, 2}, Flags: ByteNums{FlagRST | FlagACK, 0}, Len: []uint32{54, 300}}))
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	data, ci, err := r.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
	tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tcp == nil || !tcp.RST || !tcp.ACK || tcp.SYN || tcp.SrcPort != 8080 || tcp.DstPort != 40000 || ci.Length != 54 || !ci.Timestamp.Equal(at) {
		t.Errorf("tcp packet %v, ci %+v", p, ci)
	}
	data, ci, _ = r.ReadPacketData()
	p = gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
	ip6, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if ip6 == nil || udp == nil || udp.DstPort != 5353 || ci.Length != 300 || ci.Timestamp.Sub(at) != 1500*time.Microsecond {
		t.Errorf("udp packet %v, ci %+v", p, ci)
	}
	if w.Packets() != 2 {
		t.Errorf("wrote %d", w.Packets())
	}
}
