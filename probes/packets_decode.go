package probes

import (
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

// flowKey identifies a directional flow on one interface. It is a map key,
// so it holds only comparable values. Non-IP frames use MAC addresses.
type flowKey struct {
	etherType        uint16
	proto            uint8 // IP protocol; 0 for non-IP
	src, dst         netip.Addr
	srcPort, dstPort uint16
	srcMAC, dstMAC   [6]byte
}

// packetDecoder decodes headers with gopacket's layers without allocating
// per packet, calling each layer's DecodeFromBytes in turn on reused layer
// values. (gopacket's DecodingLayerParser does the same through a map of
// decoders; at a 200k packets/s flood its lookups were a third of the
// per-packet cost.) Anything past what a flow needs stops decoding.
type packetDecoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP
	link  linkKind
}

func newPacketDecoder(link linkKind) *packetDecoder { return &packetDecoder{link: link} }

var nofb = gopacket.NilDecodeFeedback

// decode returns the packet's flow and TCP flags. ok is false for a frame
// too short to say anything about.
func (d *packetDecoder) decode(data []byte) (k flowKey, flags uint8, ok bool) {
	var et layers.EthernetType
	if d.link == linkRawIP {
		switch {
		case len(data) > 0 && data[0]>>4 == 4:
			et = layers.EthernetTypeIPv4
		case len(data) > 0 && data[0]>>4 == 6:
			et = layers.EthernetTypeIPv6
		default:
			return k, 0, false
		}
	} else {
		if d.eth.DecodeFromBytes(data, nofb) != nil {
			return k, 0, false
		}
		copy(k.srcMAC[:], d.eth.SrcMAC)
		copy(k.dstMAC[:], d.eth.DstMAC)
		et, data = d.eth.EthernetType, d.eth.Payload
		if et == layers.EthernetTypeDot1Q || et == layers.EthernetTypeQinQ {
			if d.dot1q.DecodeFromBytes(data, nofb) != nil {
				k.etherType = uint16(et)
				return k, 0, true
			}
			et, data = d.dot1q.Type, d.dot1q.Payload
		}
	}
	k.etherType = uint16(et)
	var l4 []byte
	switch et {
	case layers.EthernetTypeIPv4:
		if d.ip4.DecodeFromBytes(data, nofb) != nil {
			return k, 0, true
		}
		k.src, _ = netip.AddrFromSlice(d.ip4.SrcIP)
		k.dst, _ = netip.AddrFromSlice(d.ip4.DstIP)
		k.proto = uint8(d.ip4.Protocol)
		// Only an unfragmented datagram has its ports here, as gopacket
		// decodes it.
		if d.ip4.Flags&layers.IPv4MoreFragments == 0 && d.ip4.FragOffset == 0 {
			l4 = d.ip4.Payload
		}
	case layers.EthernetTypeIPv6:
		if d.ip6.DecodeFromBytes(data, nofb) != nil {
			return k, 0, true
		}
		k.src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
		k.dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
		k.proto, l4 = uint8(d.ip6.NextHeader), d.ip6.Payload
		// MLD and other router-alert packets carry a hop-by-hop header
		// first; gopacket decodes it with the IPv6 layer and strips it.
		if d.ip6.HopByHop != nil {
			k.proto = uint8(d.ip6.HopByHop.NextHeader)
		}
	default:
		return k, 0, true
	}
	// IP flows are named by address; the MACs would split one flow in two
	// when a router's MAC changes.
	k.srcMAC, k.dstMAC = [6]byte{}, [6]byte{}
	switch {
	case k.proto == 6 && l4 != nil:
		if d.tcp.DecodeFromBytes(l4, nofb) == nil {
			k.srcPort, k.dstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			flags = tcpFlags(&d.tcp)
		}
	case k.proto == 17 && l4 != nil:
		if d.udp.DecodeFromBytes(l4, nofb) == nil {
			k.srcPort, k.dstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		}
	}
	return k, flags, true
}

func tcpFlags(t *layers.TCP) uint8 {
	var f uint8
	for _, b := range []struct {
		on  bool
		bit uint8
	}{{t.FIN, FlagFIN}, {t.SYN, FlagSYN}, {t.RST, FlagRST}, {t.PSH, FlagPSH},
		{t.ACK, FlagACK}, {t.URG, FlagURG}, {t.ECE, FlagECE}, {t.CWR, FlagCWR}} {
		if b.on {
			f |= b.bit
		}
	}
	return f
}

var protoNames = map[uint8]string{1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp",
	58: "icmp6", 112: "vrrp", 132: "sctp"}

// info names a flow for its "flow" event.
func (k flowKey) info(id uint32, iface string) FlowInfo {
	fi := FlowInfo{ID: id, Iface: iface}
	if !k.src.IsValid() {
		switch k.etherType {
		case uint16(layers.EthernetTypeARP):
			fi.Proto = "arp"
		default:
			fi.Proto = fmt.Sprintf("ethertype-0x%04x", k.etherType)
		}
		fi.Src, fi.Dst = net.HardwareAddr(k.srcMAC[:]).String(), net.HardwareAddr(k.dstMAC[:]).String()
		return fi
	}
	fi.Proto = protoNames[k.proto]
	if fi.Proto == "" {
		fi.Proto = fmt.Sprintf("ip%d", k.proto)
	}
	if k.proto == 6 || k.proto == 17 {
		fi.Src = netip.AddrPortFrom(k.src, k.srcPort).String()
		fi.Dst = netip.AddrPortFrom(k.dst, k.dstPort).String()
	} else {
		fi.Src, fi.Dst = k.src.String(), k.dst.String()
	}
	return fi
}
