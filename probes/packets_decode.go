package probes

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// linkKind is how an interface frames its packets.
type linkKind int

const (
	linkEthernet linkKind = iota // ether, loopback (a zeroed Ethernet header), veth, bridges
	linkRawIP                    // tun, ipip, sit, gre: the packet starts at the IP header
)

// linkOf maps an ARPHRD_* type (/sys/class/net/IF/type) to a framing.
func linkOf(arphrd int) (linkKind, error) {
	switch arphrd {
	case 1, 772: // ARPHRD_ETHER, ARPHRD_LOOPBACK
		return linkEthernet, nil
	case 65534, 768, 776, 778, 823: // NONE (tun, wireguard), TUNNEL, SIT, IPGRE, IP6GRE
		return linkRawIP, nil
	}
	return 0, fmt.Errorf("link type %d is not Ethernet or raw IP", arphrd)
}

// flowKey identifies a directional flow on one interface. It is a map key of
// plain bytes with no padding, so Go hashes and compares it as one block of
// memory (a key holding netip.Addr values hashed field by field, and was
// most of the flow lookup's cost in a flood).
type flowKey struct {
	src, dst         [16]byte // IPv4 in the first 4 bytes; MACs (first 6) for non-IP frames
	srcPort, dstPort uint16
	etherType        uint16
	vlan, innerVLAN  uint16 // 802.1Q / 802.1ad VLAN IDs, 0 when untagged
	proto            uint8  // IP protocol; 0 for non-IP
	ipVer            uint8  // 4 or 6; 0 for a non-IP frame (or an IP header that did not decode)
}

// packetDecoder reads the few header fields a flow needs at fixed offsets:
// Ethernet, up to two VLAN tags, IPv4 without options, IPv6 without a
// hop-by-hop header, TCP and UDP. At a 200k packets/s flood even gopacket's
// layer-by-layer DecodeFromBytes cost more than the rest of the capture.
// Anything less common (IPv4 options, IPv6 hop-by-hop, jumbograms, TSO
// lengths of 0) goes through gopacket's layers, and a test checks the two
// agree on every frame of a corpus and on random mutations of it.
type packetDecoder struct {
	ip4  layers.IPv4
	ip6  layers.IPv6
	link linkKind
}

func newPacketDecoder(link linkKind) *packetDecoder { return &packetDecoder{link: link} }

var nofb = gopacket.NilDecodeFeedback

const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherDot1Q = 0x8100
	etherQinQ  = 0x88a8
	etherARP   = 0x0806
)

// vlanTag is an 802.1Q tag the kernel took off a frame and reports beside
// it (a live capture's VLAN offload); tpid 0 means none.
type vlanTag struct{ tpid, tci uint16 }

// decode returns the packet's flow and TCP flags. ok is false for a frame
// too short to say anything about.
func (d *packetDecoder) decode(data []byte) (k flowKey, flags uint8, ok bool) {
	flags, ok = d.decodeInto(data, vlanTag{}, &k)
	return k, flags, ok
}

// decodeInto is decode writing the flow into *k, which it clears first: the
// capture loop keeps one key and saves copying it per packet. A tag the
// kernel stripped is the outer one; tags left in the frame come after it.
func (d *packetDecoder) decodeInto(data []byte, tag vlanTag, k *flowKey) (flags uint8, ok bool) {
	*k = flowKey{}
	tags := 0
	if tag.tpid != 0 {
		k.vlan, tags = tag.tci&0x0fff, 1
	}
	var et uint16
	if d.link == linkRawIP {
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
		for ; (et == etherDot1Q || et == etherQinQ) && tags < 2; tags++ {
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
			k.srcPort, k.dstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
			flags = l4[13]
		}
	case k.proto == 17 && len(l4) >= 8:
		// A UDP length of 1 to 7 is invalid; 0 is a jumbogram.
		if n := binary.BigEndian.Uint16(l4[4:6]); n == 0 || n >= 8 {
			k.srcPort, k.dstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
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
	if data[0]&0x0f != 5 || total < 20 {
		// Options, a bad header length, or a TSO length of 0: gopacket.
		if d.ip4.DecodeFromBytes(data, nofb) != nil {
			return nil, false
		}
		if d.ip4.Flags&layers.IPv4MoreFragments == 0 && d.ip4.FragOffset == 0 {
			l4 = d.ip4.Payload
		}
		k.proto = uint8(d.ip4.Protocol)
	} else {
		if binary.BigEndian.Uint16(data[6:8])&0x3fff == 0 { // no MF flag, offset 0
			l4 = data[20:min(total, len(data))]
		}
		k.proto = data[9]
	}
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
		if d.ip6.DecodeFromBytes(data, nofb) != nil {
			return 0, nil, false
		}
		proto = uint8(d.ip6.NextHeader)
		if d.ip6.HopByHop != nil {
			proto = uint8(d.ip6.HopByHop.NextHeader)
		}
		return proto, d.ip6.Payload, true
	}
	return nh, data[40:min(40+plen, len(data))], true
}

var protoNames = map[uint8]string{1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp",
	58: "icmp6", 112: "vrrp", 132: "sctp"}

// info names a flow for its "flow" event.
func (k flowKey) info(id uint32, iface string) FlowInfo {
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
		fi.Src = netip.AddrPortFrom(src, k.srcPort).String()
		fi.Dst = netip.AddrPortFrom(dst, k.dstPort).String()
	} else {
		fi.Src, fi.Dst = src.String(), dst.String()
	}
	return fi
}
