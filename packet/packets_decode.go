package packet

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"unsafe"
)

// linkKind is how an interface frames its packets.
type LinkKind int

const (
	LinkEthernet LinkKind = iota // ether, loopback (a zeroed Ethernet header), veth, bridges
	LinkRawIP                    // tun, ipip, sit, gre: the packet starts at the IP header
)

// linkOf maps an ARPHRD_* type (/sys/class/net/IF/type) to a framing.
func LinkOf(arphrd int) (LinkKind, error) {
	switch arphrd {
	case 1, 772: // ARPHRD_ETHER, ARPHRD_LOOPBACK
		return LinkEthernet, nil
	case 65534, 768, 776, 778, 823: // NONE (tun, wireguard), TUNNEL, SIT, IPGRE, IP6GRE
		return LinkRawIP, nil
	}
	return 0, fmt.Errorf("link type %d is not Ethernet or raw IP", arphrd)
}

// flowKey identifies a directional flow on one interface. It is a map key of
// plain bytes with no padding, so Go hashes and compares it as one block of
// memory (a key holding netip.Addr values hashed field by field, and was
// most of the flow lookup's cost in a flood).
type flowKey struct {
	src, dst         [16]byte // IPv4 in the first 4 bytes; MACs (first 6) for non-IP frames
	SrcPort, dstPort uint16
	etherType        uint16
	vlan, innerVLAN  uint16 // 802.1Q / 802.1ad VLAN IDs, 0 when untagged
	proto            uint8  // IP protocol; 0 for non-IP
	ipVer            uint8  // 4 or 6; 0 for a non-IP frame (or an IP header that did not decode)
}

// flowKeySize is flowKey's size in bytes: no padding (checked by a test).
const flowKeySize = 44

// same is k == o, as five 8-byte and one 4-byte comparison: the compiler
// calls memequal for a 44-byte struct, which was 8% of a flood's CPU for
// the one comparison a packet needs (is it the previous packet's flow?).
func (k *flowKey) same(o *flowKey) bool {
	a := (*[flowKeySize]byte)(unsafe.Pointer(k))
	b := (*[flowKeySize]byte)(unsafe.Pointer(o))
	le := binary.LittleEndian
	// ^ and | bind alike in Go: each difference is bracketed.
	return (le.Uint64(a[0:])^le.Uint64(b[0:]))|(le.Uint64(a[8:])^le.Uint64(b[8:]))|
		(le.Uint64(a[16:])^le.Uint64(b[16:]))|(le.Uint64(a[24:])^le.Uint64(b[24:]))|
		(le.Uint64(a[32:])^le.Uint64(b[32:]))|uint64(le.Uint32(a[40:])^le.Uint32(b[40:])) == 0
}

// packetDecoder reads the few header fields a flow needs at fixed offsets:
// Ethernet, up to two VLAN tags, IPv4, IPv6 with its hop-by-hop header, TCP
// and UDP. At a 200k packets/s flood even gopacket's layer-by-layer
// DecodeFromBytes cost more than the rest of the capture. It is not used
// even for the rare headers (IPv4 options, IPv6 hop-by-hop, jumbograms, TSO
// lengths of 0): linking gopacket/layers at all adds 5 MB of tables to the
// globals the GC scans and counts into its heap goal, which cost the
// process about 6 MB of RSS. gopacket stays the oracle: a test checks the
// two agree on every frame of a corpus and on random mutations of it, so a
// header gopacket rejects is rejected here too.
type packetDecoder struct {
	link LinkKind
}

func NewPacketDecoder(link LinkKind) *packetDecoder { return &packetDecoder{link: link} }

const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	EtherDot1Q = 0x8100
	etherQinQ  = 0x88a8
	etherARP   = 0x0806
)

// vlanTag is an 802.1Q tag the kernel took off a frame and reports beside
// it (a live capture's VLAN offload); tpid 0 means none.
type VlanTag struct{ Tpid, Tci uint16 }

// decode returns the packet's flow and TCP flags. ok is false for a frame
// too short to say anything about.
func (d *packetDecoder) Decode(data []byte) (k flowKey, flags uint8, ok bool) {
	flags, ok = d.decodeInto(data, VlanTag{}, &k)
	return k, flags, ok
}

// decodeInto is decode writing the flow into *k, which it clears first: the
// capture loop keeps one key and saves copying it per packet. A tag the
// kernel stripped is the outer one; tags left in the frame come after it.
func (d *packetDecoder) decodeInto(data []byte, tag VlanTag, k *flowKey) (flags uint8, ok bool) {
	*k = flowKey{}
	tags := 0
	if tag.Tpid != 0 {
		k.vlan, tags = tag.Tci&0x0fff, 1
	}
	var et uint16
	if d.link == LinkRawIP {
		switch {
		case len(data) > 0 && data[0]>>4 == 4:
			et = etherIPv4
		case len(data) > 0 && data[0]>>4 == 6:
			et = etherIPv6
		default:
			return 0, false
		}
	} else {
		if len(data) < 14 {
			return 0, false
		}
		et = binary.BigEndian.Uint16(data[12:14])
		*(*[6]byte)(k.dst[:6]) = [6]byte(data[0:6])
		*(*[6]byte)(k.src[:6]) = [6]byte(data[6:12])
		if et < 0x0600 {
			// An 802.3 length, not an EtherType: LLC follows (gopacket's
			// EthernetTypeLLC, 0).
			return 0, true
		}
		data = data[14:]
		for ; (et == EtherDot1Q || et == etherQinQ) && tags < 2; tags++ {
			if len(data) < 4 {
				k.etherType = et
				return 0, true
			}
			vid := binary.BigEndian.Uint16(data[0:2]) & 0x0fff
			if tags == 0 {
				k.vlan = vid
			} else {
				k.innerVLAN = vid
			}
			et, data = binary.BigEndian.Uint16(data[2:4]), data[4:]
		}
	}
	k.etherType = et
	var l4 []byte
	switch et {
	case etherIPv4:
		var good bool
		if l4, good = d.ipv4(data, k); !good {
			return 0, true
		}
	case etherIPv6:
		var good bool
		k.proto, l4, good = d.ipv6(data)
		if !good {
			return 0, true
		}
		k.ipVer = 6
		k.src, k.dst = [16]byte(data[8:24]), [16]byte(data[24:40])
	default:
		return 0, true
	}
	switch {
	case k.proto == 6 && len(l4) >= 20:
		// gopacket rejects a data offset under 5 words or past the bytes
		// there are; then there are no ports and no flags.
		if off := int(l4[12]>>4) * 4; off >= 20 && off <= len(l4) {
			k.SrcPort, k.dstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
			flags = l4[13]
		}
	case k.proto == 17 && len(l4) >= 8:
		// A UDP length of 1 to 7 is invalid; 0 is a jumbogram.
		if n := binary.BigEndian.Uint16(l4[4:6]); n == 0 || n >= 8 {
			k.SrcPort, k.dstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
		}
	}
	return flags, true
}

// ipv4 sets k's addresses (the MACs give way) and protocol, and returns
// the transport bytes (only for an unfragmented datagram, as gopacket
// decodes it).
func (d *packetDecoder) ipv4(data []byte, k *flowKey) (l4 []byte, ok bool) {
	if len(data) < 20 {
		return nil, false
	}
	total := int(binary.BigEndian.Uint16(data[2:4]))
	src, dst := data[12:16], data[16:20]
	payload := data[20:min(max(total, 20), len(data))]
	if data[0]&0x0f != 5 || total < 20 {
		// Options, a bad header length, or a TSO length of 0.
		var good bool
		if payload, good = ipv4Slow(data); !good {
			return nil, false
		}
	}
	if binary.BigEndian.Uint16(data[6:8])&0x3fff == 0 { // no MF flag, offset 0
		l4 = payload
	}
	k.proto = data[9]
	k.ipVer = 4
	k.src, k.dst = [16]byte{}, [16]byte{}
	*(*[4]byte)(k.src[:4]), *(*[4]byte)(k.dst[:4]) = [4]byte(src), [4]byte(dst)
	return l4, true
}

// ipv6 returns the protocol after a hop-by-hop header (MLD and other
// router-alert packets carry one) and the bytes after the headers gopacket
// decodes with the IPv6 layer.
func (d *packetDecoder) ipv6(data []byte) (proto uint8, l4 []byte, ok bool) {
	if len(data) < 40 {
		return 0, nil, false
	}
	plen, nh := int(binary.BigEndian.Uint16(data[4:6])), data[6]
	if nh == 0 || plen == 0 {
		return ipv6Slow(data)
	}
	return nh, data[40:min(40+plen, len(data))], true
}

// ipv4Slow checks an IPv4 header with options, a bad header length or a
// total length of 0 (TSO) as gopacket's IPv4 layer does, and returns what
// follows it. ok is false for a header gopacket rejects: a length or
// header length out of range, a header cut short, a malformed option.
func ipv4Slow(data []byte) (payload []byte, ok bool) {
	hl := int(data[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(data[2:4]))
	if total == 0 {
		total = len(data) // TSO: the length is what was captured
	}
	if total < 20 || hl < 20 || hl > total {
		return nil, false
	}
	if len(data) > total {
		data = data[:total]
	} else if hl > len(data) {
		return nil, false
	}
	for opts := data[20:hl]; len(opts) > 0; {
		switch opts[0] {
		case 0: // end of options
			opts = nil
		case 1: // no-op
			opts = opts[1:]
		default: // type, length (counting both), data
			if len(opts) < 2 || int(opts[1]) > len(opts) || opts[1] < 2 {
				return nil, false
			}
			opts = opts[opts[1]:]
		}
	}
	return data[hl:], true
}

const ipv6Jumbogram = 0xc2 // hop-by-hop option: a 32-bit payload length

// ipv6Slow reads an IPv6 packet with a hop-by-hop header or a payload
// length of 0 as gopacket's IPv6 layer does: the protocol after the
// hop-by-hop header and the bytes after it, bounded by the payload length
// or a jumbogram option's. ok is false for what gopacket rejects: a header
// or option past the bytes there are, a length of 0 without a jumbogram
// option (or one with a non-zero length), a bad jumbogram option.
func ipv6Slow(data []byte) (proto uint8, l4 []byte, ok bool) {
	plen, proto := int(binary.BigEndian.Uint16(data[4:6])), data[6]
	payload := data[40:]
	if plen != 0 {
		payload = payload[:min(plen, len(payload))]
	}
	if proto != 0 {
		return 0, nil, false // a length of 0 needs a hop-by-hop jumbogram option
	}
	if len(payload) < 2 {
		return 0, nil, false
	}
	hl := int(payload[1])*8 + 8
	if len(payload) < hl {
		return 0, nil, false
	}
	var jumbo []byte // the first jumbogram option's data
	for off := 2; off < hl; {
		o := payload[off:hl]
		if o[0] == 0 { // Pad1
			off++
			continue
		}
		if len(o) < 2 || len(o) < int(o[1])+2 {
			return 0, nil, false
		}
		if o[0] == ipv6Jumbogram && jumbo == nil {
			jumbo = o[2 : o[1]+2]
		}
		off += int(o[1]) + 2
	}
	proto = payload[0]
	if jumbo == nil {
		if plen == 0 {
			return 0, nil, false
		}
		return proto, payload[hl:], true
	}
	if len(jumbo) != 4 || plen != 0 {
		return 0, nil, false
	}
	n := binary.BigEndian.Uint32(jumbo)
	if n <= 65535 {
		return 0, nil, false
	}
	end := int(min(n, uint32(len(payload))))
	if end < hl {
		return 0, nil, false
	}
	return proto, payload[hl:end], true
}

var protoNames = map[uint8]string{1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp",
	58: "icmp6", 112: "vrrp", 132: "sctp"}

// info names a flow for its "flow" event.
func (k flowKey) Info(id uint32, iface string) FlowInfo {
	fi := FlowInfo{ID: id, Iface: iface, VLAN: k.vlan, InnerVLAN: k.innerVLAN}
	var src, dst netip.Addr
	switch k.ipVer {
	case 4:
		src, dst = netip.AddrFrom4([4]byte(k.src[:4])), netip.AddrFrom4([4]byte(k.dst[:4]))
	case 6:
		src, dst = netip.AddrFrom16(k.src), netip.AddrFrom16(k.dst)
	default:
		switch k.etherType {
		case etherARP:
			fi.Proto = "arp"
		default:
			fi.Proto = fmt.Sprintf("ethertype-0x%04x", k.etherType)
		}
		fi.Src, fi.Dst = net.HardwareAddr(k.src[:6]).String(), net.HardwareAddr(k.dst[:6]).String()
		return fi
	}
	fi.Proto = protoNames[k.proto]
	if fi.Proto == "" {
		fi.Proto = fmt.Sprintf("ip%d", k.proto)
	}
	if k.proto == 6 || k.proto == 17 {
		fi.Src = netip.AddrPortFrom(src, k.SrcPort).String()
		fi.Dst = netip.AddrPortFrom(dst, k.dstPort).String()
	} else {
		fi.Src, fi.Dst = src.String(), dst.String()
	}
	return fi
}
