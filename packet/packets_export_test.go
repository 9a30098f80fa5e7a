package packet

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testframes"
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
	rawIP := testframes.Frame(t, &layers.IPv4{Version: 4, TTL: 64, Protocol: 112, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{224, 0, 0, 18}},
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
			if b, ok := event.As[PacketBatch](ev); ok {
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
	if k, _, _ := NewPacketDecoder(LinkEthernet).Decode(data); k.Info(1, "eth0") != *evs[0].Body.(*FlowInfo) {
		t.Errorf("rebuilt VLAN frame %x reads as %+v", data, k.Info(1, "eth0"))
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
		k, _, _ := NewPacketDecoder(LinkEthernet).Decode(data)
		got = append(got, k.Info(0, "").String())
		if k.proto == 112 && !bytes.Equal(data[14:], rawIP) {
			t.Errorf("tun packet framed as %x", data)
		}
	}
	if r.LinkType() != layers.LinkTypeEthernet || strings.Join(got, ", ") != "10.0.0.1:5000 > 10.0.0.2:53 vlan 10, 10.0.0.1 > 224.0.0.18" {
		t.Errorf("mixed export: link type %v, flows %q", r.LinkType(), got)
	}
}

// gopacketHeaders is how PcapWriter rebuilt headers with gopacket's
// serializer before it left the binary: the oracle for headers.
func gopacketHeaders(fi FlowInfo, pk Packet, ether bool) []byte {
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: make(net.HardwareAddr, 6), DstMAC: make(net.HardwareAddr, 6)}
	src, sport := splitEnd(fi.Src)
	dst, dport := splitEnd(fi.Dst)
	var ls []gopacket.SerializableLayer
	l2 := 0 // bytes before the IP header
	// typ sets the EtherType of what follows the link headers.
	typ := func(et layers.EthernetType) { eth.EthernetType = et }
	if ether {
		ls, l2 = append(ls, eth), 14
		var tags []uint16
		if fi.VLAN != 0 || fi.InnerVLAN != 0 {
			tags = append(tags, fi.VLAN)
		}
		if fi.InnerVLAN != 0 {
			tags = append(tags, fi.InnerVLAN)
		}
		for i, v := range tags {
			if i == 0 && len(tags) == 2 {
				typ(layers.EthernetTypeQinQ)
			} else {
				typ(layers.EthernetTypeDot1Q)
			}
			tag := &layers.Dot1Q{VLANIdentifier: v}
			typ = func(et layers.EthernetType) { tag.Type = et }
			ls, l2 = append(ls, tag), l2+4
		}
	}
	wire := int(pk.Len)
	proto := protoNumber(fi.Proto)
	var nl gopacket.NetworkLayer
	switch {
	case src.Is4() && dst.Is4():
		typ(layers.EthernetTypeIPv4)
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocol(proto),
			SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), Length: uint16(max(wire-l2, 20))}
		ls, nl = append(ls, ip), ip
	case src.Is6() && dst.Is6():
		typ(layers.EthernetTypeIPv6)
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(proto),
			SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), Length: uint16(max(wire-l2-40, 0))}
		ls, nl = append(ls, ip), ip
	case !ether:
		return nil // nothing but IP on an IP-only link
	default:
		// Not IP: the flow's ends are MAC addresses.
		eth.SrcMAC, _ = macOr(fi.Src)
		eth.DstMAC, _ = macOr(fi.Dst)
		typ(layers.EthernetType(etherTypeOf(fi.Proto)))
	}
	if nl != nil {
		switch proto {
		case 6:
			tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), DataOffset: 5, Window: 65535,
				FIN: pk.Flags&FlagFIN != 0, SYN: pk.Flags&FlagSYN != 0, RST: pk.Flags&FlagRST != 0, PSH: pk.Flags&FlagPSH != 0,
				ACK: pk.Flags&FlagACK != 0, URG: pk.Flags&FlagURG != 0, ECE: pk.Flags&FlagECE != 0, CWR: pk.Flags&FlagCWR != 0}
			tcp.SetNetworkLayerForChecksum(nl)
			ls = append(ls, tcp)
		case 17:
			l4 := wire - l2 - 20
			if _, v6 := nl.(*layers.IPv6); v6 {
				l4 = wire - l2 - 40
			}
			udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport), Length: uint16(max(l4, 8))}
			udp.SetNetworkLayerForChecksum(nl)
			ls = append(ls, udp)
		}
	}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, ls...); err != nil {
		return make([]byte, l2)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// TestPcapWriterHeadersMatchGopacket: headers rebuilt for TCP, UDP, ICMP,
// VRRP and non-IP flows, IPv4 and IPv6, untagged, tagged and double
// tagged, Ethernet and raw IP, at wire lengths below, at and above the
// headers' own, are byte for byte what gopacket's serializer made. The one
// exception is the TCP/UDP checksum of a packet that had a payload, which
// gopacket summed with the headers' length where ours takes the length the
// IP header claims (neither can be checked: the payload is not recorded).
func TestPcapWriterHeadersMatchGopacket(t *testing.T) {
	var flows []FlowInfo
	for _, ends := range [][2]string{{"10.0.0.2:8080", "10.0.0.1:40000"}, {"[2001:db8::1]:443", "[fe80::2]:50000"}} {
		for _, proto := range []string{"tcp", "udp"} {
			flows = append(flows, FlowInfo{Proto: proto, Src: ends[0], Dst: ends[1]})
		}
	}
	flows = append(flows, FlowInfo{Proto: "icmp", Src: "192.0.2.1", Dst: "198.51.100.7"},
		FlowInfo{Proto: "vrrp", Src: "10.0.0.1", Dst: "224.0.0.18"},
		FlowInfo{Proto: "icmp6", Src: "fe80::1", Dst: "ff02::1"},
		FlowInfo{Proto: "ip47", Src: "10.9.9.9", Dst: "10.8.8.8"},
		FlowInfo{Proto: "arp", Src: "02:00:00:00:00:01", Dst: "ff:ff:ff:ff:ff:ff"},
		FlowInfo{Proto: "ethertype-0x88cc", Src: "02:00:00:00:00:03", Dst: "01:80:c2:00:00:0e"},
		FlowInfo{Proto: "udp", Src: "10.0.0.1:1", Dst: "[::1]:2"})
	n := 0
	for _, base := range flows {
		for _, tags := range [][2]uint16{{}, {10, 0}, {100, 200}, {0, 7}} {
			fi := base
			fi.VLAN, fi.InnerVLAN = tags[0], tags[1]
			for _, ether := range []bool{true, false} {
				for _, wire := range []uint32{0, 10, 42, 54, 58, 62, 66, 74, 78, 82, 86, 90, 1514, 9000, 65600} {
					for _, flags := range []uint8{0, FlagSYN, FlagRST | FlagACK, 0xff} {
						pk := Packet{Len: wire, Flags: flags}
						got, want := AppendHeaders(nil, fi, pk, ether), gopacketHeaders(fi, pk, ether)
						if got == nil && want == nil {
							continue
						}
						n++
						if len(got) != len(want) {
							t.Fatalf("%+v %+v ether=%v: %d bytes, gopacket %d\n%x\n%x", fi, pk, ether, len(got), len(want), got, want)
						}
						if bytes.Equal(got, want) {
							continue
						}
						// Only the transport checksum may differ, and only
						// when a payload followed the headers.
						l2 := 0
						if ether {
							l2 = 14
							if tags != [2]uint16{} {
								l2 += 4
							}
							if tags[1] != 0 {
								l2 += 4
							}
						}
						ipLen, sum, hdr := 20, 16, 20
						if strings.HasPrefix(fi.Src, "[") {
							ipLen = 40
						}
						if fi.Proto == "udp" {
							sum, hdr = 6, 8
						}
						at := l2 + ipLen + sum
						if int(wire) <= l2+ipLen+hdr || bytes.Equal(got[:at], want[:at]) && !bytes.Equal(got[at+2:], want[at+2:]) || !bytes.Equal(got[:at], want[:at]) {
							t.Fatalf("%+v %+v ether=%v:\n%x\ngopacket\n%x", fi, pk, ether, got, want)
						}
					}
				}
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d packets compared", n)
	}
}

// TestPcapWriterChecksumsVerify: packets that had no payload (a RST, an
// empty UDP datagram, a bare ACK, tagged or not, IPv4 and IPv6) come back
// with checksums tcpdump -vvv verifies, and the IPv4 header checksum
// holds for every packet.
func TestPcapWriterChecksumsVerify(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed (make test installs it)")
	}
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	b := &PacketBatch{Iface: "eth0", Start: at}
	for i, fi := range []FlowInfo{
		{Proto: "tcp", Src: "10.0.0.2:8080", Dst: "10.0.0.1:40000"},
		{Proto: "udp", Src: "10.0.0.2:5353", Dst: "224.0.0.251:5353", VLAN: 10},
		{Proto: "tcp", Src: "[2001:db8::1]:443", Dst: "[2001:db8::2]:50000", VLAN: 100, InnerVLAN: 200},
		{Proto: "udp", Src: "[fe80::1]:547", Dst: "[ff02::1:2]:546"},
		{Proto: "tcp", Src: "192.0.2.1:65535", Dst: "192.0.2.255:1", VLAN: 4095},
	} {
		fi.ID, fi.Iface = uint32(i+1), "eth0"
		w.Observe(event.New(at, "packets", &fi))
		l2 := 14 + 4*min(int(fi.VLAN), 1) + 4*min(int(fi.InnerVLAN), 1)
		l3 := 20
		if strings.HasPrefix(fi.Src, "[") {
			l3 = 40
		}
		l4 := 20
		if fi.Proto == "udp" {
			l4 = 8
		}
		for _, flags := range []uint8{FlagRST | FlagACK, FlagACK, FlagSYN | FlagFIN | FlagPSH | FlagURG} {
			b.DtUs = append(b.DtUs, 1)
			b.Flow = append(b.Flow, fi.ID)
			b.Flags = append(b.Flags, flags)
			b.Len = append(b.Len, uint32(l2+l3+l4))
		}
	}
	// And one with a payload: the IPv4 header checksum still holds.
	b.DtUs, b.Flow, b.Flags, b.Len = append(b.DtUs, 1), append(b.Flow, 1), append(b.Flags, FlagACK), append(b.Len, 1514)
	if err := w.Observe(event.New(at, "packets", b)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sums.pcap")
	os.WriteFile(path, buf.Bytes(), 0o600)
	out, err := exec.Command("tcpdump", "-r", path, "-n", "-vvv", "-e").CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	s := string(out)
	ok := strings.Count(s, "(correct)") + strings.Count(s, "sum ok]")
	if strings.Contains(s, "bad cksum") || strings.Contains(s, "incorrect") || ok != 15 || w.Packets() != 16 {
		t.Errorf("%d checksums verified of 15, %d packets:\n%s", ok, w.Packets(), s)
	}
}
