package filter

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The test corpus: hand-built frames, so every field a filter reads can be
// set on purpose (fragment offsets, IP options, truncation, VLAN tags).

type packet struct {
	name string
	data []byte // Ethernet frame
}

var (
	macA           = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB           = []byte{0x02, 0, 0, 0, 0, 0x0b}
	macBcast       = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macMcast       = []byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12} // 224.0.0.18
	mac6Mc         = []byte{0x33, 0x33, 0, 0, 0, 1}
	macAlmostBcast = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}
)

func eth(dst, src []byte, etype uint16, payload []byte) []byte {
	b := append(append(append([]byte{}, dst...), src...), byte(etype>>8), byte(etype))
	return append(b, payload...)
}

func vlanEth(dst, src []byte, vid uint16, inner uint16, payload []byte) []byte {
	b := append(append(append([]byte{}, dst...), src...), 0x81, 0x00, byte(vid>>8), byte(vid), byte(inner>>8), byte(inner))
	return append(b, payload...)
}

type v4opts struct {
	options []byte // multiple of 4
	fragOff uint16 // in 8-byte units
	mf, df  bool
}

func ipv4(src, dst string, proto byte, payload []byte, o v4opts) []byte {
	ihl := 5 + len(o.options)/4
	h := make([]byte, ihl*4)
	h[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(payload)))
	ff := o.fragOff & 0x1fff
	if o.mf {
		ff |= 0x2000
	}
	if o.df {
		ff |= 0x4000
	}
	binary.BigEndian.PutUint16(h[6:], ff)
	h[8], h[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	copy(h[20:], o.options)
	return append(h, payload...)
}

func ipv6(src, dst string, nxt byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = nxt, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, payload...)
}

// frag6 wraps payload in an IPv6 fragment header.
func frag6(nxt byte, off uint16, payload []byte) []byte {
	h := []byte{nxt, 0, byte(off >> 5), byte(off<<3) | 1, 0, 0, 0, 7}
	return append(h, payload...)
}

func l4(sport, dport uint16, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	return b
}

func tcpSeg(sport, dport uint16, flags byte) []byte {
	b := l4(sport, dport, 20)
	b[12] = 5 << 4
	b[13] = flags
	return b
}

func udpDgram(sport, dport uint16) []byte {
	b := l4(sport, dport, 12)
	binary.BigEndian.PutUint16(b[4:], 12)
	return b
}

func icmpMsg(typ, code byte) []byte { return []byte{typ, code, 0, 0, 0, 1, 0, 1} }

func arpMsg(op uint16, spa, tpa string) []byte {
	b := make([]byte, 28)
	copy(b, []byte{0, 1, 8, 0, 6, 4, byte(op >> 8), byte(op)})
	s, t := netip.MustParseAddr(spa).As4(), netip.MustParseAddr(tpa).As4()
	copy(b[8:], macA)
	copy(b[14:], s[:])
	copy(b[24:], t[:])
	return b
}

const (
	pICMP  = 1
	pIGMP  = 2
	pTCP   = 6
	pUDP   = 17
	pICMP6 = 58
	pVRRP  = 112
	pSCTP  = 132
	pGRE   = 47
)

// buildCorpus returns several hundred frames covering what the supported
// primitives can tell apart, plus truncated copies.
func buildCorpus() []packet {
	var ps []packet
	add := func(name string, b []byte) { ps = append(ps, packet{name, b}) }
	v4addrs := [][2]string{{"10.0.0.1", "192.168.1.10"}, {"192.168.1.10", "10.1.2.3"}, {"1.2.3.4", "8.8.8.8"},
		{"172.16.5.4", "1.2.3.4"}, {"11.0.0.1", "9.255.255.255"}, {"10.255.0.7", "10.0.0.2"}}
	ports := [][2]uint16{{40000, 53}, {53, 40000}, {80, 1024}, {1023, 443}, {22, 22}, {8080, 6000}, {5, 5}, {10, 20}, {21, 9}, {65535, 0}, {2049, 111}}
	for _, a := range v4addrs {
		for _, pt := range ports {
			add(fmt.Sprintf("v4 tcp %s:%d>%s:%d", a[0], pt[0], a[1], pt[1]), eth(macB, macA, etherIP, ipv4(a[0], a[1], pTCP, tcpSeg(pt[0], pt[1], 0x18), v4opts{})))
			add(fmt.Sprintf("v4 udp %s:%d>%s:%d", a[0], pt[0], a[1], pt[1]), eth(macB, macA, etherIP, ipv4(a[0], a[1], pUDP, udpDgram(pt[0], pt[1]), v4opts{})))
		}
		add("v4 sctp "+a[0], eth(macB, macA, etherIP, ipv4(a[0], a[1], pSCTP, l4(53, 80, 12), v4opts{})))
		add("v4 icmp echo "+a[0], eth(macB, macA, etherIP, ipv4(a[0], a[1], pICMP, icmpMsg(8, 0), v4opts{})))
		add("v4 gre "+a[0], eth(macB, macA, etherIP, ipv4(a[0], a[1], pGRE, l4(53, 53, 8), v4opts{})))
		add("arp request "+a[0], eth(macBcast, macA, etherARP, arpMsg(1, a[0], a[1])))
		add("rarp "+a[0], eth(macBcast, macA, etherRARP, arpMsg(3, a[1], a[0])))
	}
	v6addrs := [][2]string{{"2001:db8::1", "2001:db8::2"}, {"fe80::1", "ff02::12"}, {"::1", "::1"}, {"2001:db8:1::5", "fe80::abcd"}}
	for _, a := range v6addrs {
		for _, pt := range ports[:8] {
			add(fmt.Sprintf("v6 tcp %s:%d>%s:%d", a[0], pt[0], a[1], pt[1]), eth(macB, macA, etherIPv6, ipv6(a[0], a[1], pTCP, tcpSeg(pt[0], pt[1], 0x12))))
			add(fmt.Sprintf("v6 udp %s:%d>%s:%d", a[0], pt[0], a[1], pt[1]), eth(mac6Mc, macA, etherIPv6, ipv6(a[0], a[1], pUDP, udpDgram(pt[0], pt[1]))))
		}
		add("v6 icmp6 "+a[0], eth(macB, macA, etherIPv6, ipv6(a[0], a[1], pICMP6, icmpMsg(128, 0))))
		add("v6 sctp "+a[0], eth(macB, macA, etherIPv6, ipv6(a[0], a[1], pSCTP, l4(53, 80, 12))))
		add("v6 frag tcp "+a[0], eth(macB, macA, etherIPv6, ipv6(a[0], a[1], protoFragment6, frag6(pTCP, 0, tcpSeg(53, 80, 2)))))
		add("v6 frag udp later "+a[0], eth(macB, macA, etherIPv6, ipv6(a[0], a[1], protoFragment6, frag6(pUDP, 100, udpDgram(53, 53)))))
		add("v6 frag icmp6 "+a[0], eth(macB, macA, etherIPv6, ipv6(a[0], a[1], protoFragment6, frag6(pICMP6, 0, icmpMsg(135, 0)))))
		add("v6 hopopts udp "+a[0], eth(macB, macA, etherIPv6, ipv6(a[0], a[1], 0, append([]byte{pUDP, 0, 1, 4, 0, 0, 0, 0}, udpDgram(53, 53)...))))
	}
	// Every combination of the six classic TCP flags, IPv4 and IPv6, plus ECE/CWR.
	for f := 0; f < 64; f++ {
		add(fmt.Sprintf("v4 tcp flags %#x", f), eth(macB, macA, etherIP, ipv4("10.0.0.1", "10.0.0.2", pTCP, tcpSeg(12345, 80, byte(f)), v4opts{})))
		if f%3 == 0 {
			add(fmt.Sprintf("v6 tcp flags %#x", f), eth(macB, macA, etherIPv6, ipv6("2001:db8::1", "2001:db8::2", pTCP, tcpSeg(12345, 80, byte(f)))))
		}
	}
	add("v4 tcp ece|cwr|syn", eth(macB, macA, etherIP, ipv4("10.0.0.1", "10.0.0.2", pTCP, tcpSeg(1, 2, 0xc2), v4opts{})))
	// IP options move the TCP header; libpcap indexes from the real IHL.
	opts := []byte{0x94, 0x04, 0, 0, 1, 1, 1, 0}
	for _, f := range []byte{0x02, 0x04, 0x10, 0x11} {
		add(fmt.Sprintf("v4 opts tcp flags %#x", f), eth(macB, macA, etherIP, ipv4("10.0.0.1", "10.0.0.2", pTCP, tcpSeg(53, 443, f), v4opts{options: opts})))
	}
	add("v4 opts udp 53", eth(macB, macA, etherIP, ipv4("10.0.0.1", "10.0.0.2", pUDP, udpDgram(53, 1000), v4opts{options: opts[:4]})))
	// Fragments: only the first carries ports and flags.
	for _, fo := range []v4opts{{mf: true}, {fragOff: 185, mf: true}, {fragOff: 370}, {fragOff: 1}, {fragOff: 0x1000}, {fragOff: 0x1fff, df: true}, {df: true}} {
		add(fmt.Sprintf("v4 frag off=%d mf=%v df=%v tcp", fo.fragOff, fo.mf, fo.df), eth(macB, macA, etherIP, ipv4("10.0.0.1", "10.0.0.2", pTCP, tcpSeg(53, 80, 0x04), fo)))
		add(fmt.Sprintf("v4 frag off=%d mf=%v df=%v udp", fo.fragOff, fo.mf, fo.df), eth(macB, macA, etherIP, ipv4("192.168.1.10", "10.0.0.2", pUDP, udpDgram(53, 53), fo)))
	}
	// VRRP adverts, multicast and broadcast.
	vrrp := []byte{0x21, 1, 100, 1, 0, 1, 0, 0, 10, 0, 0, 100}
	add("vrrp advert", eth(macMcast, macA, etherIP, ipv4("10.0.0.5", "224.0.0.18", pVRRP, vrrp, v4opts{})))
	add("vrrp unicast mac", eth(macB, macA, etherIP, ipv4("10.0.0.5", "10.0.0.6", pVRRP, vrrp, v4opts{})))
	add("igmp report", eth(macMcast, macA, etherIP, ipv4("10.0.0.5", "224.0.0.22", pIGMP, []byte{0x22, 0, 0, 0, 0, 0, 0, 0}, v4opts{})))
	add("udp to 239.1.1.1", eth(macMcast, macA, etherIP, ipv4("10.0.0.5", "239.1.1.1", pUDP, udpDgram(5000, 5000), v4opts{})))
	add("udp to 223.255.255.255", eth(macB, macA, etherIP, ipv4("10.0.0.5", "223.255.255.255", pUDP, udpDgram(5000, 5000), v4opts{})))
	add("udp bcast 255.255.255.255", eth(macBcast, macA, etherIP, ipv4("10.0.0.5", "255.255.255.255", pUDP, udpDgram(68, 67), v4opts{})))
	add("udp 0.0.0.0", eth(macBcast, macA, etherIP, ipv4("0.0.0.0", "255.255.255.255", pUDP, udpDgram(68, 67), v4opts{})))
	add("almost-bcast mac", eth(macAlmostBcast, macA, etherIP, ipv4("10.0.0.5", "10.0.0.6", pUDP, udpDgram(68, 67), v4opts{})))
	add("v6 to ff02::1", eth(mac6Mc, macA, etherIPv6, ipv6("fe80::1", "ff02::1", pUDP, udpDgram(546, 547))))
	add("v6 to fe00::1", eth(macB, macA, etherIPv6, ipv6("fe80::1", "fe00::1", pUDP, udpDgram(546, 547))))
	// VLAN-tagged frames: without the vlan keyword libpcap does not look inside.
	add("vlan v4 tcp 80", vlanEth(macB, macA, 10, etherIP, ipv4("10.0.0.1", "10.0.0.2", pTCP, tcpSeg(80, 80, 2), v4opts{})))
	add("vlan v6 udp 53", vlanEth(macB, macA, 10, etherIPv6, ipv6("2001:db8::1", "2001:db8::2", pUDP, udpDgram(53, 53))))
	add("vlan vrrp", vlanEth(macMcast, macA, 10, etherIP, ipv4("10.0.0.5", "224.0.0.18", pVRRP, vrrp, v4opts{})))
	// Odd ethertypes and protocols.
	add("ipx-ish ethertype", eth(macB, macA, 0x8137, make([]byte, 46)))
	add("802.3 length field", eth(macB, macA, 46, make([]byte, 46)))
	add("lldp", eth([]byte{0x01, 0x80, 0xc2, 0, 0, 0x0e}, macA, 0x88cc, make([]byte, 46)))
	add("v4 proto 255", eth(macB, macA, etherIP, ipv4("10.0.0.1", "10.0.0.2", 255, make([]byte, 20), v4opts{})))
	add("v4 version-6 nibble in ip frame", eth(macB, macA, etherIP, ipv6("::1", "::2", pTCP, tcpSeg(80, 80, 2))))

	// Truncated copies of a sample: a load past the end aborts the filter.
	base := len(ps)
	for i := 0; i < base; i += 5 {
		full := ps[i]
		for _, n := range []int{1, 12, 13, 14, 15, 20, 23, 24, 27, 30, 33, 35, 38, 40, 47, 50, 54, 55, 56, 57, 58, 61, 66, 69, 70} {
			if n < len(full.data) {
				add(fmt.Sprintf("%s [cut %d]", full.name, n), full.data[:n])
			}
		}
	}
	return ps
}

// forLink rewrites an Ethernet corpus for another link type: raw IP drops
// the Ethernet header (and non-IP frames), Linux SLL swaps in a cooked header.
func forLink(ps []packet, lt LinkType) []packet {
	if lt == LinkEthernet {
		return ps
	}
	var out []packet
	for _, p := range ps {
		if len(p.data) < 15 {
			continue
		}
		et := binary.BigEndian.Uint16(p.data[12:])
		switch lt {
		case LinkRaw:
			if et == etherIP || et == etherIPv6 {
				out = append(out, packet{p.name, p.data[14:]})
			}
		case LinkLinuxSLL:
			h := []byte{0, 0, 0, 1, 0, 6}
			h = append(append(h, p.data[6:12]...), 0, 0)
			out = append(out, packet{p.name, append(append(h, p.data[12:14]...), p.data[14:]...)})
		}
	}
	return out
}
