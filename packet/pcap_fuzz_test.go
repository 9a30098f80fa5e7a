package packet

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stakeout/stakeout/event"
)

// FuzzPcapEvents feeds arbitrary bytes to the capture reader that
// `events`, `report`, `replay`, `handoff` and `export` use on a pcap or
// pcapng file from another box: it must never panic, and every event it
// hands on must encode. The seeds (a TCP and a UDP packet, in pcap of
// both byte orders and pcapng of several sections and block kinds) run in
// every `go test`. A pcapng timestamp can lie past the year
// 9999, which JSON cannot hold: such an event fails to encode, and the
// command reading the capture says so in one line.
func FuzzPcapEvents(f *testing.F) {
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	tcp := &layers.TCP{SrcPort: 5000, DstPort: 80, SYN: true, Window: 1024}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		f.Fatal(err)
	}
	pkt := buf.Bytes()
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
	udp := &layers.UDP{SrcPort: 53, DstPort: 5353}
	udp.SetNetworkLayerForChecksum(ip6)
	buf6 := gopacket.NewSerializeBuffer()
	eth6 := *eth
	eth6.EthernetType = layers.EthernetTypeIPv6
	if err := gopacket.SerializeLayers(buf6, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, &eth6, ip6, udp, gopacket.Payload("hi")); err != nil {
		f.Fatal(err)
	}
	pkt6 := buf6.Bytes()

	var pb bytes.Buffer
	w := pcapgo.NewWriter(&pb)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	var ngb bytes.Buffer
	ng, err := pcapgo.NewNgWriterInterface(&ngb, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		f.Fatal(err)
	}
	for i, p := range [][]byte{pkt, pkt6, pkt} {
		ci := gopacket.CaptureInfo{Timestamp: at.Add(time.Duration(i) * time.Second), CaptureLength: len(p), Length: len(p)}
		w.WritePacket(ci, p)
		ng.WritePacket(ci, p)
	}
	ng.Flush()
	f.Add(pb.Bytes())
	f.Add(ngb.Bytes())
	f.Add(pb.Bytes()[:40])
	f.Add(ngb.Bytes()[:len(ngb.Bytes())/2])
	// pcapng as pcapgo doesn't write it: a big-endian section with a 2^-20
	// resolution and an offset, an obsolete and a simple packet block, a
	// block to skip, then a little-endian section with a raw IP interface.
	var nf ngFile
	nf.section(binary.BigEndian)
	nf.iface(linkTypeEthernet, "eth1", 0x80|20, -5)
	nf.packet(0, uint64(at.Unix())<<20, len(pkt), pkt, false)
	nf.block(0xbad, []byte("skip"))
	nf.packet(0, uint64(at.Unix())<<20+1, len(pkt6), pkt6, true)
	nf.simple(len(pkt), pkt)
	nf.section(binary.LittleEndian)
	nf.iface(LinkTypeRaw, "tun0", 9, 0)
	nf.packet(0, uint64(at.UnixNano()), len(pkt)-14, pkt[14:], false)
	f.Add(nf.b)
	f.Add(swapPcap(pb.Bytes()))

	f.Fuzz(func(t *testing.T, b []byte) {
		var scratch []byte
		for _, payload := range []bool{false, true} {
			PcapEvents(bytes.NewReader(b), payload, func(ev event.Event) {
				var err error
				if scratch, err = ev.AppendJSON(scratch[:0]); err != nil && ev.Time.Year() >= 0 && ev.Time.Year() <= 9999 {
					t.Fatalf("%s event of %s does not encode: %v", ev.Kind, ev.Time, err)
				}
			})
		}
	})
}
