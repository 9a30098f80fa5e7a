package filter

import (
	"golang.org/x/net/bpf"
)

// LinkType is a pcap LINKTYPE_ value: what the captured bytes start with.
type LinkType uint32

const (
	LinkEthernet LinkType = 1   // LINKTYPE_ETHERNET (DLT_EN10MB): Ethernet II; also Linux loopback
	LinkRaw      LinkType = 101 // LINKTYPE_RAW: the packet starts at the IPv4 or IPv6 header
	LinkDLTRaw   LinkType = 12  // DLT_RAW as Linux libpcap numbers it; same as LinkRaw
	LinkLinuxSLL LinkType = 113 // LINKTYPE_LINUX_SLL: 16-byte cooked header ("any" device)
)

const (
	etherIP   = 0x0800
	etherIPv6 = 0x86dd
	etherARP  = 0x0806
	etherRARP = 0x8035

	protoFragment6 = 44 // IPv6 fragment header, which libpcap looks through for "tcp", "proto N"
)

// link knows where the network header starts and how to test its type.
type link struct {
	kind LinkType
	nl   uint32 // offset of the network-layer header
}

func newLink(t LinkType) (link, bool) {
	switch t {
	case LinkEthernet:
		return link{LinkEthernet, 14}, true
	case LinkRaw, LinkDLTRaw:
		return link{LinkRaw, 0}, true
	case LinkLinuxSLL:
		return link{LinkLinuxSLL, 16}, true
	}
	return link{}, false
}

func ldb(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: off, Size: 1} }
func ldh(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: off, Size: 2} }
func ldw(off uint32) bpf.Instruction { return bpf.LoadAbsolute{Off: off, Size: 4} }

// ethertype tests the network protocol. Raw IP has no type field, so libpcap
// reads the IP version nibble, and ARP can never match.
func (l link) ethertype(t uint16) *pred {
	switch l.kind {
	case LinkRaw:
		switch t {
		case etherIP:
			return test(opJEQ, 0x40, ldb(0), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
		case etherIPv6:
			return test(opJEQ, 0x60, ldb(0), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
		}
		return constant(false)
	case LinkLinuxSLL:
		return test(opJEQ, uint32(t), ldh(14))
	}
	return test(opJEQ, uint32(t), ldh(12))
}

// ipProto4 is "ip proto N": the IPv4 protocol byte only.
func (l link) ipProto4(p uint32) *pred {
	return and(l.ethertype(etherIP), test(opJEQ, p, ldb(l.nl+9)))
}

// ipProto6 is "ip6 proto N": libpcap also accepts N behind one fragment header.
func (l link) ipProto6(p uint32) *pred {
	return and(l.ethertype(etherIPv6), or(
		test(opJEQ, p, ldb(l.nl+6)),
		and(test(opJEQ, protoFragment6, ldb(l.nl+6)), test(opJEQ, p, ldb(l.nl+40)))))
}

// notFragment4 is true for an unfragmented packet or the first fragment.
func (l link) notFragment4() *pred {
	return not(test(opJSET, 0x1fff, ldh(l.nl+6)))
}

// protoKeyword is a bare protocol name such as "tcp" or "vrrp".
func (l link) protoKeyword(name string) (*pred, bool) {
	switch name {
	case "ip":
		return l.ethertype(etherIP), true
	case "ip6":
		return l.ethertype(etherIPv6), true
	case "arp":
		return l.ethertype(etherARP), true
	case "rarp":
		return l.ethertype(etherRARP), true
	case "tcp", "udp", "sctp":
		p := ipProtoNumbers[name]
		return or(l.ipProto4(p), l.ipProto6(p)), true
	case "icmp", "igmp", "vrrp":
		return l.ipProto4(ipProtoNumbers[name]), true
	case "icmp6":
		return l.ipProto6(58), true
	}
	return nil, false
}

var ipProtoNumbers = map[string]uint32{"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "sctp": 132, "vrrp": 112}

// protoNames are the names "ip proto NAME" accepts. libpcap looks them up in
// /etc/protocols, so this is Debian's spelling of the common ones.
var protoNames = map[string]uint32{
	"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58,
	"ospf": 89, "pim": 103, "vrrp": 112, "sctp": 132,
}

// dirPred combines a source and a destination test as the dir qualifier says.
func dirPred(dir string, src, dst func() *pred) *pred {
	switch dir {
	case "src":
		return src()
	case "dst":
		return dst()
	case "and":
		return and(src(), dst())
	}
	return or(src(), dst())
}

// hostNet4 matches an IPv4 address under a mask in IP, ARP and RARP headers
// (the last two only without an "ip" qualifier), in libpcap's order.
func (l link) hostNet4(proto, dir string, addr, mask uint32) *pred {
	word := func(off uint32) *pred {
		if mask == 0 { // libpcap's optimizer drops the always-true load, so must we
			return constant(true)
		}
		if mask == 0xffffffff {
			return test(opJEQ, addr, ldw(off))
		}
		return test(opJEQ, addr, ldw(off), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
	}
	// libpcap writes (ip and src) or (ip and dst); the type test is
	// hoisted here, which reads the same bytes in the same order.
	one := func(et uint16, srcOff, dstOff uint32) *pred {
		return and(l.ethertype(et), dirPred(dir,
			func() *pred { return word(l.nl + srcOff) },
			func() *pred { return word(l.nl + dstOff) }))
	}
	ip := one(etherIP, 12, 16)
	switch proto {
	case "ip":
		return ip
	case "arp":
		return one(etherARP, 14, 24)
	case "rarp":
		return one(etherRARP, 14, 24)
	}
	return or(ip, one(etherARP, 14, 24), one(etherRARP, 14, 24))
}

// hostNet6 matches an IPv6 address under a mask, comparing all four words.
func (l link) hostNet6(dir string, addr, mask [4]uint32) *pred {
	at := func(off uint32) func() *pred {
		return func() *pred {
			var words []*pred
			for i := uint32(0); i < 4; i++ {
				if mask[i] == 0 {
					continue // as in hostNet4: no load for an all-zero mask
				}
				if mask[i] == 0xffffffff {
					words = append(words, test(opJEQ, addr[i], ldw(off+4*i)))
				} else {
					words = append(words, test(opJEQ, addr[i], ldw(off+4*i), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask[i]}))
				}
			}
			return and(words...)
		}
	}
	return and(l.ethertype(etherIPv6), dirPred(dir, at(l.nl+8), at(l.nl+24)))
}

// ports matches TCP/UDP/SCTP ports in [lo, hi]. libpcap checks IPv6 first
// (next header directly, no extension headers), then IPv4, where only the
// first fragment carries ports.
func (l link) ports(proto, dir string, lo, hi uint32) *pred {
	protos := []string{"sctp", "tcp", "udp"}
	if proto != "" {
		protos = []string{proto}
	}
	inRange := func(load ...bpf.Instruction) *pred {
		if lo == hi {
			return test(opJEQ, lo, load...)
		}
		return and(test(opJGE, lo, load...), not(test(opJGT, hi, load...)))
	}
	// libpcap ORs one branch per protocol; as a protocol byte has one
	// value, "(p is one of them) and the ports match" is the same test.
	var is6, is4 []*pred
	for _, p := range protos {
		is6 = append(is6, test(opJEQ, ipProtoNumbers[p], ldb(l.nl+6)))
		is4 = append(is4, test(opJEQ, ipProtoNumbers[p], ldb(l.nl+9)))
	}
	v6 := dirPred(dir,
		func() *pred { return inRange(ldh(l.nl + 40)) },
		func() *pred { return inRange(ldh(l.nl + 42)) })
	v4 := dirPred(dir,
		func() *pred { return inRange(bpf.LoadMemShift{Off: l.nl}, bpf.LoadIndirect{Off: l.nl, Size: 2}) },
		func() *pred { return inRange(bpf.LoadMemShift{Off: l.nl}, bpf.LoadIndirect{Off: l.nl + 2, Size: 2}) })
	return or(and(l.ethertype(etherIPv6), or(is6...), v6),
		and(l.ethertype(etherIP), or(is4...), l.notFragment4(), v4))
}

// multicast and broadcast follow libpcap: the Ethernet group bit, an all-ones
// destination MAC, an IPv4 class D destination, an ff00::/8 destination.
func (l link) multicast(proto string) (*pred, error) {
	switch proto {
	case "", "ether":
		if l.kind != LinkEthernet {
			return nil, unsupported(joinWords(proto, "multicast"), "link-layer multicast needs an Ethernet link")
		}
		return test(opJSET, 1, ldb(0)), nil
	case "ip":
		return and(l.ethertype(etherIP), test(opJGE, 0xe0, ldb(l.nl+16))), nil
	case "ip6":
		return and(l.ethertype(etherIPv6), test(opJEQ, 0xff, ldb(l.nl+24))), nil
	}
	return nil, unsupported(joinWords(proto, "multicast"), "")
}

func (l link) broadcast(proto string) (*pred, error) {
	switch proto {
	case "", "ether":
		if l.kind != LinkEthernet {
			return nil, unsupported(joinWords(proto, "broadcast"), "link-layer broadcast needs an Ethernet link")
		}
		return and(test(opJEQ, 0xffffffff, ldw(2)), test(opJEQ, 0xffff, ldh(0))), nil
	case "ip":
		return nil, unsupported("ip broadcast", "libpcap's meaning depends on the interface netmask")
	}
	return nil, unsupported(joinWords(proto, "broadcast"), "")
}

func joinWords(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}
