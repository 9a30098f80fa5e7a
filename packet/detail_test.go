package packet

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stakeout/stakeout/internal/testframes"
)

type detailCase struct {
	name string
	link uint16
	data []byte
}

var (
	ip4A, ip4B = net.IPv4(10, 9, 0, 2).To4(), net.IPv4(10, 9, 0, 1).To4()
	ip6A, ip6B = net.ParseIP("2001:db8::2"), net.ParseIP("2001:db8::1")
)

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: testframes.MacA, DstMAC: testframes.MacB, EthernetType: et}
}

func ip4(p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 63, Id: 0x1c46, Flags: layers.IPv4DontFragment, Protocol: p, SrcIP: ip4A, DstIP: ip4B}
}

func ip6(p layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, FlowLabel: 0x12345, NextHeader: p, SrcIP: ip6A, DstIP: ip6B}
}

// dnsResponse is a response with compressed names, as resolvers send it:
// www.example.com CNAME example.com, A, AAAA, MX and TXT records.
func dnsResponse() []byte {
	m := []byte{0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0}
	m = append(m, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1)
	rr := func(name []byte, typ uint16, data []byte) {
		m = append(m, name...)
		m = append(m, byte(typ>>8), byte(typ), 0, 1, 0, 0, 0x0e, 0x10, byte(len(data)>>8), byte(len(data)))
		m = append(m, data...)
	}
	www, example := []byte{0xc0, 12}, []byte{0xc0, 16}
	rr(www, 5, example)
	rr(example, 1, []byte{93, 184, 216, 34})
	rr(example, 28, net.ParseIP("2606:2800:220:1::248"))
	rr(example, 15, append([]byte{0, 10, 4, 'm', 'a', 'i', 'l'}, example...))
	rr(example, 16, []byte{11, 'v', '=', 's', 'p', 'f', '1', ' ', '-', 'a', 'l', 'l'})
	return m
}

func detailCorpus(t testing.TB) []detailCase {
	frame := testframes.Frame
	syn := &layers.TCP{SrcPort: 40000, DstPort: 8080, Seq: 1234, SYN: true, Window: 64240, Options: []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 0}},
		{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
	}}
	ip := ip4(layers.IPProtocolTCP)
	syn.SetNetworkLayerForChecksum(ip)
	cases := []detailCase{{"tcp syn with options", 1, frame(t, eth(layers.EthernetTypeIPv4), ip, syn)}}

	rst := &layers.TCP{SrcPort: 8080, DstPort: 40000, Seq: 99, Ack: 1235, RST: true, ACK: true, Window: 0}
	ip6t := ip6(layers.IPProtocolTCP)
	rst.SetNetworkLayerForChecksum(ip6t)
	cases = append(cases, detailCase{"tcp rst over ipv6", 1, frame(t, eth(layers.EthernetTypeIPv6), ip6t, rst)})

	q := &layers.DNS{ID: 0xbeef, RD: true, Questions: []layers.DNSQuestion{{Name: []byte("www.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	ipu, udp := ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 5353, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ipu)
	cases = append(cases, detailCase{"dns query", 1, frame(t, eth(layers.EthernetTypeIPv4), ipu, udp, q)})
	ipr, udpr := ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 53, DstPort: 5353}
	udpr.SetNetworkLayerForChecksum(ipr)
	cases = append(cases, detailCase{"dns response, compressed", 1, frame(t, eth(layers.EthernetTypeIPv4), ipr, udpr, gopacket.Payload(dnsResponse()))})

	echo := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 3}
	cases = append(cases, detailCase{"icmp echo", 1, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), echo, gopacket.Payload("ping"))})

	// A port unreachable quotes the UDP datagram that caused it.
	innerIP, innerUDP := ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 5000, DstPort: 53}
	innerUDP.SetNetworkLayerForChecksum(innerIP)
	inner := frame(t, innerIP, innerUDP, gopacket.Payload("q"))
	unreach := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)}
	cases = append(cases, detailCase{"icmp port unreachable", 1, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), unreach, gopacket.Payload(inner))})
	// A time exceeded quotes 8 bytes of TCP.
	innerTCP := frame(t, ip4(layers.IPProtocolTCP), syn)[:20+8]
	ttl := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeTimeExceeded, layers.ICMPv4CodeTTLExceeded)}
	cases = append(cases, detailCase{"icmp ttl exceeded", 1, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), ttl, gopacket.Payload(innerTCP))})

	ip6i := ip6(layers.IPProtocolICMPv6)
	e6 := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	e6.SetNetworkLayerForChecksum(ip6i)
	cases = append(cases, detailCase{"icmp6 echo", 1, frame(t, eth(layers.EthernetTypeIPv6), ip6i, e6, &layers.ICMPv6Echo{Identifier: 9, SeqNumber: 1})})
	ns := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	ns.SetNetworkLayerForChecksum(ip6i)
	cases = append(cases, detailCase{"icmp6 neighbor solicitation", 1, frame(t, eth(layers.EthernetTypeIPv6), ip6i, ns,
		&layers.ICMPv6NeighborSolicitation{TargetAddress: ip6B, Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: testframes.MacA}}})})
	inner6IP, inner6UDP := ip6(layers.IPProtocolUDP), &layers.UDP{SrcPort: 5000, DstPort: 443}
	inner6UDP.SetNetworkLayerForChecksum(inner6IP)
	inner6 := frame(t, inner6IP, inner6UDP, gopacket.Payload(make([]byte, 1400)))
	big := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypePacketTooBig, 0)}
	big.SetNetworkLayerForChecksum(ip6i)
	cases = append(cases, detailCase{"icmp6 packet too big", 1, frame(t, eth(layers.EthernetTypeIPv6), ip6i, big,
		gopacket.Payload(append([]byte{0, 0, 5, 0xdc}, inner6[:200]...)))})

	// VRRPv2 (gopacket decodes it but cannot write it): VRID 51,
	// priority 150, two addresses, 1 s.
	vrrp := []byte{0x21, 51, 150, 2, 0, 1, 0, 0, 10, 9, 0, 254, 10, 9, 0, 253, 0, 0, 0, 0, 0, 0, 0, 0}
	cases = append(cases, detailCase{"vrrp v2", 1, frame(t, eth(layers.EthernetTypeIPv4),
		&layers.IPv4{Version: 4, TTL: 255, Protocol: layers.IPProtocolVRRP, SrcIP: ip4B, DstIP: net.IPv4(224, 0, 0, 18).To4()}, gopacket.Payload(vrrp))})
	// VRRPv3 over IPv6: 100 cs, one address.
	vrrp3 := append([]byte{0x31, 7, 100, 1, 0, 100, 0, 0}, ip6B.To16()...)
	cases = append(cases, detailCase{"vrrp v3 ipv6", 1, frame(t, eth(layers.EthernetTypeIPv6),
		&layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolVRRP, SrcIP: ip6A, DstIP: net.ParseIP("ff02::12")}, gopacket.Payload(vrrp3))})

	cases = append(cases,
		detailCase{"qinq", 1, testframes.VLAN(t, 10, 20)},
		detailCase{"mld with hop-by-hop", 1, testframes.MLD(t)},
		detailCase{"arp request", 1, frame(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet,
			Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
			SourceHwAddress: testframes.MacA, SourceProtAddress: ip4A, DstHwAddress: make([]byte, 6), DstProtAddress: ip4B})},
		detailCase{"raw ip udp", LinkTypeRaw, frame(t, ipu, udp, gopacket.Payload("x"))},
	)
	return cases
}

// fieldsOf is every field of ls as "Layer.name=value" (quoted layers
// prefixed "quoted ").
func fieldsOf(ls []Layer) []string {
	var out []string
	for _, l := range ls {
		n := l.Name
		if l.Quoted {
			n = "quoted " + n
		}
		for _, f := range l.Fields {
			out = append(out, n+"."+f.Name+"="+f.Value)
		}
	}
	return out
}

// oracle is what gopacket decodes of the same bytes, in Describe's words.
func oracle(data []byte, first gopacket.LayerType, quoted bool) []string {
	var out []string
	add := func(layer, name string, v any) {
		if quoted {
			layer = "quoted " + layer
		}
		out = append(out, fmt.Sprintf("%s.%s=%v", layer, name, v))
	}
	p := gopacket.NewPacket(data, first, gopacket.Default)
	var outer layers.EthernetType // what announced a tag: gopacket calls both tags of QinQ Dot1Q
	for _, l := range p.Layers() {
		switch l := l.(type) {
		case *layers.Ethernet:
			add("Ethernet", "src", l.SrcMAC)
			add("Ethernet", "dst", l.DstMAC)
			add("Ethernet", "type", etherTypeText(uint16(l.EthernetType)))
			outer = l.EthernetType
		case *layers.Dot1Q:
			name := "802.1Q"
			if outer == layers.EthernetTypeQinQ {
				name = "802.1ad"
			}
			add(name, "vlan", l.VLANIdentifier)
			add(name, "priority", l.Priority)
			add(name, "type", etherTypeText(uint16(l.Type)))
			outer = l.Type
		case *layers.IPv4:
			add("IPv4", "src", l.SrcIP)
			add("IPv4", "dst", l.DstIP)
			add("IPv4", "ttl", l.TTL)
			add("IPv4", "id", fmt.Sprintf("0x%04x", l.Id))
			add("IPv4", "protocol", ipProtoText(uint8(l.Protocol)))
			add("IPv4", "length", l.Length)
			add("IPv4", "header length", int(l.IHL)*4)
		case *layers.IPv6:
			add("IPv6", "src", l.SrcIP)
			add("IPv6", "dst", l.DstIP)
			add("IPv6", "hop limit", l.HopLimit)
			add("IPv6", "next header", ipProtoText(uint8(l.NextHeader)))
			add("IPv6", "payload length", l.Length)
			if l.FlowLabel != 0 {
				add("IPv6", "flow label", fmt.Sprintf("0x%05x", l.FlowLabel))
			}
		case *layers.TCP:
			if quoted && p.ErrorLayer() != nil {
				continue // gopacket will not read a TCP header cut at 8 bytes
			}
			add("TCP", "src port", uint16(l.SrcPort))
			add("TCP", "dst port", uint16(l.DstPort))
			add("TCP", "seq", l.Seq)
			if quoted {
				continue
			}
			if l.ACK {
				add("TCP", "ack", l.Ack)
			}
			add("TCP", "window", l.Window)
			var opts []string
			for _, o := range l.Options {
				switch o.OptionType {
				case layers.TCPOptionKindMSS:
					opts = append(opts, fmt.Sprintf("mss %d", be16(o.OptionData)))
				case layers.TCPOptionKindSACKPermitted:
					opts = append(opts, "sackOK")
				case layers.TCPOptionKindTimestamps:
					opts = append(opts, fmt.Sprintf("TS val %d ecr %d", be32(o.OptionData), be32(o.OptionData[4:])))
				case layers.TCPOptionKindNop:
					opts = append(opts, "nop")
				case layers.TCPOptionKindWindowScale:
					opts = append(opts, fmt.Sprintf("wscale %d", o.OptionData[0]))
				case layers.TCPOptionKindEndList:
					opts = append(opts, "eol")
				}
			}
			if len(opts) > 0 {
				add("TCP", "options", strings.Join(opts, ", "))
			}
		case *layers.UDP:
			add("UDP", "src port", uint16(l.SrcPort))
			add("UDP", "dst port", uint16(l.DstPort))
			add("UDP", "length", l.Length)
		case *layers.ICMPv4:
			add("ICMP", "type", named(icmp4Types, l.TypeCode.Type()))
			add("ICMP", "code", icmpCode(l.TypeCode.Type(), l.TypeCode.Code()))
			if t := l.TypeCode.Type(); t == 0 || t == 8 {
				add("ICMP", "id", l.Id)
				add("ICMP", "seq", l.Seq)
			}
		case *layers.ICMPv6:
			add("ICMPv6", "type", named(icmp6Types, l.TypeCode.Type()))
		case *layers.ICMPv6Echo:
			add("ICMPv6", "id", l.Identifier)
			add("ICMPv6", "seq", l.SeqNumber)
		case *layers.ICMPv6NeighborSolicitation:
			add("ICMPv6", "target", l.TargetAddress)
		case *layers.VRRPv2:
			if l.Version != 2 {
				continue // gopacket reads every version as 2
			}
			add("VRRP", "version", l.Version)
			add("VRRP", "virtual router id", l.VirtualRtrID)
			add("VRRP", "addresses", l.CountIPAddr)
			add("VRRP", "advertisement interval", fmt.Sprintf("%ds", l.AdverInt))
			for _, a := range l.IPAddress {
				add("VRRP", "virtual address", a)
			}
		case *layers.ARP:
			add("ARP", "sender", fmt.Sprintf("%v at %v", net.IP(l.SourceProtAddress), net.HardwareAddr(l.SourceHwAddress)))
			add("ARP", "target", fmt.Sprintf("%v at %v", net.IP(l.DstProtAddress), net.HardwareAddr(l.DstHwAddress)))
		case *layers.DNS:
			add("DNS", "id", fmt.Sprintf("0x%04x", l.ID))
			for _, q := range l.Questions {
				add("DNS", "question", fmt.Sprintf("%s. %s %s", q.Name, dnsClass(uint16(q.Class)), dnsType(uint16(q.Type))))
			}
			for _, a := range l.Answers {
				var data string
				switch a.Type {
				case layers.DNSTypeA, layers.DNSTypeAAAA:
					data = a.IP.String()
				case layers.DNSTypeCNAME:
					data = string(a.CNAME) + "."
				case layers.DNSTypeMX:
					data = fmt.Sprintf("%d %s.", a.MX.Preference, a.MX.Name)
				case layers.DNSTypeTXT:
					data = fmt.Sprintf("%q", a.TXTs[0])
				}
				add("DNS", "answer", fmt.Sprintf("%s. %d %s %s %s", a.Name, a.TTL, dnsClass(uint16(a.Class)), dnsType(uint16(a.Type)), data))
			}
		}
	}
	return out
}

// TestDescribeAgreesWithGopacket: every field gopacket decodes from the
// corpus, Describe shows with the same value, an ICMP error's quoted
// datagram included.
func TestDescribeAgreesWithGopacket(t *testing.T) {
	for _, c := range detailCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			ls := Describe(c.data, c.link)
			got := fieldsOf(ls)
			first := layers.LayerTypeEthernet
			if c.link == LinkTypeRaw {
				first = layers.LayerTypeIPv4
			}
			want := oracle(c.data, first, false)
			for _, l := range ls {
				if l.Quoted && (l.Name == "IPv4" || l.Name == "IPv6") && !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, "quoted ") }) {
					lt := layers.LayerTypeIPv4
					if l.Name == "IPv6" {
						lt = layers.LayerTypeIPv6
					}
					want = append(want, oracle(c.data[l.Off:], lt, true)...)
				}
				if l.Note != "" && !l.Quoted && (l.Name != "DNS" || slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, "DNS.") })) {
					t.Errorf("%s: note %q on a well-formed packet", l.Name, l.Note)
				}
			}
			if len(want) < 3 {
				t.Fatalf("gopacket decoded too little to compare: %v", want)
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("gopacket has %s; Describe:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

// TestDescribeSpecifics pins what gopacket cannot check: quoted
// datagrams, VRRPv3, checksums, DNS names behind pointers.
func TestDescribeSpecifics(t *testing.T) {
	byName := map[string][]string{}
	for _, c := range detailCorpus(t) {
		byName[c.name] = fieldsOf(Describe(c.data, c.link))
	}
	for name, want := range map[string][]string{
		"tcp syn with options":  {"TCP.flags=[S] (SYN)", "IPv4.checksum=0x" /* prefix */, "IPv4.flags=DF"},
		"icmp port unreachable": {"ICMP.code=port unreachable (3)", "quoted IPv4.dst=10.9.0.1", "quoted UDP.dst port=53"},
		"icmp ttl exceeded":     {"quoted TCP.src port=40000", "quoted TCP.seq=1234"},
		"icmp6 packet too big":  {"ICMPv6.mtu=1500", "quoted IPv6.src=2001:db8::2", "quoted UDP.dst port=443"},
		"vrrp v3 ipv6":          {"VRRP.version=3", "VRRP.max advertisement interval=1.00s", "VRRP.virtual address=2001:db8::1", "VRRP.priority=100"},
		"vrrp v2":               {"VRRP.priority=150", "VRRP.type=advertisement (1)", "VRRP.auth type=none"},
		"dns response, compressed": {"DNS.response=QUERY", "DNS.status=NOERROR", "DNS.flags=rd ra",
			"DNS.answer=www.example.com. 3600 IN CNAME example.com.", "DNS.answer=example.com. 3600 IN MX 10 mail.example.com.",
			`DNS.answer=example.com. 3600 IN TXT "v=spf1 -all"`},
		"mld with hop-by-hop":         {"IPv6 hop-by-hop.options=router alert 0", "ICMPv6.type=multicast listener report v2 (143)"},
		"qinq":                        {"802.1ad.vlan=10", "802.1Q.vlan=20", "UDP.dst port=53"},
		"arp request":                 {"ARP.says=who has 10.9.0.1? tell 10.9.0.2"},
		"icmp6 neighbor solicitation": {"ICMPv6.options=source link-layer 02:00:00:00:00:01"},
	} {
		for _, w := range want {
			if !slices.ContainsFunc(byName[name], func(s string) bool { return strings.HasPrefix(s, w) }) {
				t.Errorf("%s: no %s in\n%s", name, w, strings.Join(byName[name], "\n"))
			}
		}
	}
}

// TestDescribeNamesWhatIsWrong: a cut header, a bad checksum, a looping
// DNS name each get a note, and decoding stops there.
func TestDescribeNamesWhatIsWrong(t *testing.T) {
	c := detailCorpus(t)[0].data
	ls := Describe(c[:14+20+10], 1)
	if last := ls[len(ls)-1]; last.Name != "TCP" || last.Note != "truncated: 10 of 20 bytes" {
		t.Errorf("cut TCP: %+v", last)
	}
	bad := slices.Clone(c)
	bad[14+10] ^= 0xff
	if l := Describe(bad, 1)[1]; l.Note != "bad header checksum" {
		t.Errorf("bad checksum: %+v", l)
	}
	loop := []byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}
	d := &detail{data: loop}
	d.dns(0, len(loop))
	if d.layers[0].Note != "question 1: name pointers loop" {
		t.Errorf("looping name: %+v", d.layers[0])
	}
	evil := append([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'a', 0x1b, ']', 0x07, '.'}, 0, 0, 1, 0, 1)
	d = &detail{data: evil}
	d.dns(0, len(evil))
	if q := fieldsOf(d.layers); !slices.Contains(q, `DNS.question=a\027]\007\.. IN A`) {
		t.Errorf("a name with control bytes should be escaped: %v", q)
	}
}

func TestHex(t *testing.T) {
	got := Hex([]byte("GET / HTTP/1.1\r\nHost: x\r\n"), 16)
	want := []string{
		"0000  4745 5420 2f20 4854 5450 2f31 2e31 0d0a  GET / HTTP/1.1..",
		"0010  486f 7374 3a20 780d 0a                   Host: x..",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Hex:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// FuzzDescribe: no bytes make Describe panic, point outside the packet,
// return unbounded layers, or put a control character in a field.
func FuzzDescribe(f *testing.F) {
	for _, c := range detailCorpus(f) {
		f.Add(c.data, c.link)
	}
	f.Add(dnsResponse(), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		for _, lt := range []uint16{link, 1, LinkTypeRaw, linkTypeLinuxSLL, linkTypeLinuxSLL2} {
			ls := Describe(data, lt)
			if len(ls) > maxDetailLayers {
				t.Fatalf("%d layers", len(ls))
			}
			for _, l := range ls {
				if l.Off < 0 || l.Len < 0 || l.Off+l.Len > len(data) {
					t.Fatalf("%s at %d+%d of %d bytes", l.Name, l.Off, l.Len, len(data))
				}
				for _, fl := range l.Fields {
					if strings.IndexFunc(fl.Value, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
						t.Fatalf("%s.%s has a control character: %q", l.Name, fl.Name, fl.Value)
					}
				}
			}
		}
	})
}

// TestDescribeEveryCut: every truncation of every corpus packet decodes
// within bounds (the fuzz seeds only cover whole packets).
func TestDescribeEveryCut(t *testing.T) {
	for _, c := range detailCorpus(t) {
		for n := range len(c.data) {
			for _, l := range Describe(c.data[:n], c.link) {
				if l.Off+l.Len > n {
					t.Fatalf("%s cut at %d: %s at %d+%d", c.name, n, l.Name, l.Off, l.Len)
				}
			}
		}
	}
}
