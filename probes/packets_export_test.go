package probes

import (
	"bytes"
	"io"
	"strings"
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

// TestPcapWriterLinkTypes: header records of a VLAN flow come back tagged;
// raw IP bytes recorded from a tun are written as LINKTYPE_RAW; both in one
// export make an Ethernet file with the tun's bytes behind a header.
func TestPcapWriterLinkTypes(t *testing.T) {
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	rawIP := frame(t, &layers.IPv4{Version: 4, TTL: 64, Protocol: 112, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{224, 0, 0, 18}},
		gopacket.Payload([]byte{0x21, 1, 100, 0}))
	evs := []event.Event{
		event.New(at, "packets", &FlowInfo{ID: 1, Iface: "eth0", Proto: "udp", Src: "10.0.0.1:5000", Dst: "10.0.0.2:53", VLAN: 10}),
		event.New(at, "packets", &FlowInfo{ID: 2, Iface: "tun0", Proto: "vrrp", Src: "10.0.0.1", Dst: "224.0.0.18"}),
		event.New(at, "packets", &PacketBatch{Iface: "eth0", Start: at, DtUs: []int64{0}, Flow: []uint32{1}, Flags: ByteNums{0}, Len: []uint32{64}}),
		event.New(at, "packets", &PacketBatch{Iface: "tun0", Start: at, DtUs: []int64{10}, Flow: []uint32{2}, Flags: ByteNums{0},
			Len: []uint32{uint32(len(rawIP))}, LinkType: LinkTypeRaw, Data: [][]byte{rawIP}}),
	}
	write := func(evs []event.Event) []byte {
		var links []uint16
		for _, ev := range evs {
			if b, ok := AsPacketBatch(ev); ok {
				links = append(links, ExportLinkType(b))
			}
		}
		var buf bytes.Buffer
		w, err := NewPcapWriter(&buf, links...)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if err := w.Observe(ev); err != nil {
				t.Fatal(err)
			}
		}
		return buf.Bytes()
	}

	// The tun's packets alone: a pcap of raw IP holding the bytes as captured.
	r, err := pcapgo.NewReader(bytes.NewReader(write([]event.Event{evs[1], evs[3]})))
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := r.ReadPacketData()
	if r.LinkType() != layers.LinkTypeRaw || err != nil || !bytes.Equal(data, rawIP) {
		t.Errorf("raw IP export: link type %v, %x, %v", r.LinkType(), data, err)
	}

	// The VLAN flow alone: Ethernet with the tag rebuilt, read back as the
	// same flow.
	r, err = pcapgo.NewReader(bytes.NewReader(write([]event.Event{evs[0], evs[2]})))
	if err != nil {
		t.Fatal(err)
	}
	data, _, _ = r.ReadPacketData()
	if k, _, _ := newPacketDecoder(linkEthernet).decode(data); k.info(1, "eth0") != *evs[0].Body.(*FlowInfo) {
		t.Errorf("rebuilt VLAN frame %x reads as %+v", data, k.info(1, "eth0"))
	}

	// Both: one Ethernet file (what tcpdump can read), the tun's bytes
	// behind an Ethernet header.
	r, err = pcapgo.NewReader(bytes.NewReader(write(evs)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			if err != io.EOF {
				t.Error(err)
			}
			break
		}
		k, _, _ := newPacketDecoder(linkEthernet).decode(data)
		got = append(got, k.info(0, "").String())
		if k.proto == 112 && !bytes.Equal(data[14:], rawIP) {
			t.Errorf("tun packet framed as %x", data)
		}
	}
	if r.LinkType() != layers.LinkTypeEthernet || strings.Join(got, ", ") != "10.0.0.1:5000 > 10.0.0.2:53 vlan 10, 10.0.0.1 > 224.0.0.18" {
		t.Errorf("mixed export: link type %v, flows %q", r.LinkType(), got)
	}
}
