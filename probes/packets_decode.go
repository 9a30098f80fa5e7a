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
// per packet: DecodingLayerParser reuses the layer values below.
type packetDecoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	first   *gopacket.DecodingLayerParser
	v4, v6  *gopacket.DecodingLayerParser
	link    linkKind
	decoded []gopacket.LayerType
}

func newPacketDecoder(link linkKind) *packetDecoder {
	d := &packetDecoder{link: link, decoded: make([]gopacket.LayerType, 0, 8)}
	dls := []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.ip4, &d.ip6, &d.tcp, &d.udp}
	d.first = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, dls...)
	d.v4 = gopacket.NewDecodingLayerParser(layers.LayerTypeIPv4, dls...)
	d.v6 = gopacket.NewDecodingLayerParser(layers.LayerTypeIPv6, dls...)
	for _, p := range []*gopacket.DecodingLayerParser{d.first, d.v4, d.v6} {
		// Anything past what a flow needs (ICMP, payloads, fragments)
		// stops decoding without being an error.
		p.IgnoreUnsupported = true
	}
	return d
}

// decode returns the packet's flow and TCP flags. ok is false for a frame
// too short to say anything about.
func (d *packetDecoder) decode(data []byte) (k flowKey, flags uint8, ok bool) {
	p := d.first
	if d.link == linkRawIP {
		if len(data) == 0 {
			return k, 0, false
		}
		p = d.v4
		if data[0]>>4 == 6 {
			p = d.v6
		}
	}
	// Errors (truncated headers) still leave the layers decoded before them.
	_ = p.DecodeLayers(data, &d.decoded)
	if len(d.decoded) == 0 {
		return k, 0, false
	}
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeEthernet:
			k.etherType = uint16(d.eth.EthernetType)
			copy(k.srcMAC[:], d.eth.SrcMAC)
			copy(k.dstMAC[:], d.eth.DstMAC)
		case layers.LayerTypeDot1Q:
			k.etherType = uint16(d.dot1q.Type)
		case layers.LayerTypeIPv4:
			k.src, _ = netip.AddrFromSlice(d.ip4.SrcIP)
			k.dst, _ = netip.AddrFromSlice(d.ip4.DstIP)
			k.proto = uint8(d.ip4.Protocol)
		case layers.LayerTypeIPv6:
			k.src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
			k.dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
			k.proto = uint8(d.ip6.NextHeader)
			// MLD and other router-alert packets carry a hop-by-hop
			// header first; its first byte is the real next header.
			if k.proto == 0 && len(d.ip6.Payload) > 0 {
				k.proto = d.ip6.Payload[0]
			}
		case layers.LayerTypeTCP:
			k.srcPort, k.dstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			flags = tcpFlags(&d.tcp)
		case layers.LayerTypeUDP:
			k.srcPort, k.dstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		}
	}
	if k.src.IsValid() {
		// IP flows are named by address; the MACs would split one flow
		// in two when a router's MAC changes.
		k.srcMAC, k.dstMAC = [6]byte{}, [6]byte{}
		if k.etherType == 0 {
			k.etherType = uint16(layers.EthernetTypeIPv4)
			if k.src.Is6() && !k.src.Is4In6() {
				k.etherType = uint16(layers.EthernetTypeIPv6)
			}
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
