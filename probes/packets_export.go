package probes

import (
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stakeout/stakeout/event"
)

// PcapWriter writes recorded packets as a pcap file (Ethernet) for
// Wireshark or tcpdump -r. A recording made with --payload holds the
// captured bytes, which are written as they were. Otherwise only header
// records exist, so each packet's headers are rebuilt from its flow (MACs
// zero, addresses, ports, protocol, TCP flags, lengths); the captured
// length is those headers and the original length the one on the wire,
// as in any capture with a short snap length.
type PcapWriter struct {
	w     *pcapgo.Writer
	flows map[uint32]FlowInfo
	n     int
	buf   gopacket.SerializeBuffer
}

// NewPcapWriter writes the pcap file header.
func NewPcapWriter(w io.Writer) (*PcapWriter, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(payloadSnaplen, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &PcapWriter{w: pw, flows: map[uint32]FlowInfo{}, buf: gopacket.NewSerializeBuffer()}, nil
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
	var err error
	i := 0
	b.Each(func(pk Packet) {
		if err != nil {
			return
		}
		data := p.headers(p.flows[pk.Flow], pk)
		if int(pk.Len) >= 14 && len(data) > int(pk.Len) {
			data = data[:pk.Len] // Ethernet padding the wire length did not have
		}
		if i < len(b.Data) && len(b.Data[i]) > 0 {
			data = b.Data[i]
		}
		i++
		ci := gopacket.CaptureInfo{Timestamp: pk.Time, CaptureLength: len(data), Length: max(int(pk.Len), len(data))}
		if err = p.w.WritePacket(ci, data); err == nil {
			p.n++
		}
	})
	return err
}

// headers rebuilds a packet's headers from its flow.
func (p *PcapWriter) headers(fi FlowInfo, pk Packet) []byte {
	eth := &layers.Ethernet{SrcMAC: make(net.HardwareAddr, 6), DstMAC: make(net.HardwareAddr, 6)}
	src, sport := splitEnd(fi.Src)
	dst, dport := splitEnd(fi.Dst)
	ls := []gopacket.SerializableLayer{eth}
	wire := int(pk.Len)
	proto := protoNumber(fi.Proto)
	var nl gopacket.NetworkLayer
	switch {
	case src.Is4() && dst.Is4():
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocol(proto),
			SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), Length: uint16(max(wire-14, 20))}
		ls, nl = append(ls, ip), ip
	case src.Is6() && dst.Is6():
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(proto),
			SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), Length: uint16(max(wire-54, 0))}
		ls, nl = append(ls, ip), ip
	default:
		// Not IP: the flow's ends are MAC addresses.
		eth.SrcMAC, _ = macOr(fi.Src)
		eth.DstMAC, _ = macOr(fi.Dst)
		eth.EthernetType = etherTypeOf(fi.Proto)
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
			l4 := wire - 14 - 20
			if eth.EthernetType == layers.EthernetTypeIPv6 {
				l4 = wire - 14 - 40
			}
			udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport), Length: uint16(max(l4, 8))}
			udp.SetNetworkLayerForChecksum(nl)
			ls = append(ls, udp)
		}
	}
	p.buf.Clear()
	if err := gopacket.SerializeLayers(p.buf, gopacket.SerializeOptions{ComputeChecksums: true}, ls...); err != nil {
		return make([]byte, 14)
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
