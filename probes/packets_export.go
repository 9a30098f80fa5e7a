package probes

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stakeout/stakeout/event"
)

// PcapWriter writes recorded packets as a pcap file for Wireshark or
// tcpdump -r. A recording made with --payload holds the captured bytes,
// which are written as they were, under the link type they were captured
// with (Ethernet, raw IP from a tun or wireguard interface, a capture
// file's own). Otherwise only header records exist, so each packet's
// headers are rebuilt from its flow (MACs zero, VLAN tags, addresses,
// ports, protocol, TCP flags, lengths), framed as Ethernet or, for a raw IP
// interface, as raw IP; the captured length is those headers and the
// original length the one on the wire, as in any capture with a short
// snap length.
//
// A pcap file has one link type. When a recording holds several (an
// Ethernet and a tun interface recorded together), the file is Ethernet and
// other packets get an Ethernet header (zero MACs, the EtherType of what
// follows) in front of their bytes: libpcap, and so tcpdump, refuses a
// pcapng file whose interfaces differ in link type.
type PcapWriter struct {
	w     *pcapgo.Writer
	link  uint16 // the file's link type
	flows map[uint32]FlowInfo
	n     int
	buf   gopacket.SerializeBuffer
}

// ExportLinkType is the link type the packets of b are written with when
// they have a file to themselves.
func ExportLinkType(b *PacketBatch) uint16 {
	if len(b.Data) > 0 {
		return b.PcapLinkType()
	}
	if b.PcapLinkType() != 1 {
		return LinkTypeRaw // headers of an IP-only link, rebuilt without Ethernet
	}
	return 1
}

// NewPcapWriter writes the file header for packets of the given link types
// (ExportLinkType of every batch to come): the one link type they share,
// else Ethernet.
func NewPcapWriter(w io.Writer, links ...uint16) (*PcapWriter, error) {
	p := &PcapWriter{w: pcapgo.NewWriter(w), flows: map[uint32]FlowInfo{}, buf: gopacket.NewSerializeBuffer(), link: 1}
	if links = slices.Compact(slices.Sorted(slices.Values(links))); len(links) == 1 {
		p.link = links[0]
	}
	if err := p.w.WriteFileHeader(payloadSnaplen, layers.LinkType(p.link)); err != nil {
		return nil, err
	}
	return p, nil
}

// Packets is how many packets were written.
func (p *PcapWriter) Packets() int { return p.n }

// Observe writes the packets of a "packets" event and learns "flow" events.
func (p *PcapWriter) Observe(ev event.Event) error {
	if fi, ok := AsFlowInfo(ev); ok {
		if len(p.flows) >= 4*MaxTrackedFlows {
			clear(p.flows) // flows are announced again every minute
		}
		p.flows[fi.ID] = *fi
		return nil
	}
	b, ok := AsPacketBatch(ev)
	if !ok {
		return nil
	}
	link := ExportLinkType(b)
	if link != p.link && p.link != 1 {
		return fmt.Errorf("%s: packets of link type %d in a file of link type %d", b.Iface, link, p.link)
	}
	var err error
	i := 0
	b.Each(func(pk Packet) {
		if err != nil {
			return
		}
		var data []byte
		if i < len(b.Data) && len(b.Data[i]) > 0 {
			data = b.Data[i]
			if link != p.link {
				data = etherFramed(data, link)
			}
		} else {
			data = p.headers(p.flows[pk.Flow], pk, p.link == 1)
			if int(pk.Len) >= 14 && len(data) > int(pk.Len) {
				data = data[:pk.Len] // Ethernet padding the wire length did not have
			}
		}
		i++
		if data == nil {
			return
		}
		ci := gopacket.CaptureInfo{Timestamp: pk.Time, CaptureLength: len(data), Length: max(int(pk.Len), len(data))}
		if err = p.w.WritePacket(ci, data); err == nil {
			p.n++
		}
	})
	return err
}

// etherFramed puts an Ethernet header in front of a packet of another link
// type, for an Ethernet file: zero MACs and the EtherType of what follows
// (a Linux cooked header gives way to it). nil if it can't say.
func etherFramed(data []byte, link uint16) []byte {
	var et uint16
	switch link {
	case uint16(layers.LinkTypeLinuxSLL): // 16 bytes, the protocol last
		if len(data) < 16 {
			return nil
		}
		et, data = uint16(data[14])<<8|uint16(data[15]), data[16:]
	case 276: // LINKTYPE_LINUX_SLL2: 20 bytes, the protocol first
		if len(data) < 20 {
			return nil
		}
		et, data = uint16(data[0])<<8|uint16(data[1]), data[20:]
	default: // raw IP
		switch {
		case len(data) > 0 && data[0]>>4 == 4:
			et = etherIPv4
		case len(data) > 0 && data[0]>>4 == 6:
			et = etherIPv6
		default:
			return nil
		}
	}
	out := make([]byte, 14, 14+len(data))
	out[12], out[13] = byte(et>>8), byte(et)
	return append(out, data...)
}

// headers rebuilds a packet's headers from its flow: from the Ethernet
// header (with the flow's VLAN tags) if ether, else from the IP header.
func (p *PcapWriter) headers(fi FlowInfo, pk Packet, ether bool) []byte {
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
		typ(etherTypeOf(fi.Proto))
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
	p.buf.Clear()
	if err := gopacket.SerializeLayers(p.buf, gopacket.SerializeOptions{ComputeChecksums: true}, ls...); err != nil {
		return make([]byte, l2)
	}
	return append([]byte(nil), p.buf.Bytes()...)
}

// splitEnd parses a flow end: "addr:port", "[v6]:port" or an address.
func splitEnd(s string) (netip.Addr, uint16) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), ap.Port()
	}
	a, _ := netip.ParseAddr(s)
	return a, 0
}

func macOr(s string) (net.HardwareAddr, error) {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 {
		return make(net.HardwareAddr, 6), err
	}
	return m, nil
}

func protoNumber(name string) uint8 {
	for n, s := range protoNames {
		if s == name {
			return n
		}
	}
	if n, err := strconv.ParseUint(strings.TrimPrefix(name, "ip"), 10, 8); err == nil {
		return uint8(n)
	}
	return 0
}

func etherTypeOf(proto string) layers.EthernetType {
	if proto == "arp" {
		return layers.EthernetTypeARP
	}
	if n, err := strconv.ParseUint(strings.TrimPrefix(proto, "ethertype-0x"), 16, 16); err == nil {
		return layers.EthernetType(n)
	}
	return 0
}
