package packet

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

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
	w     io.Writer
	link  uint16 // the file's link type
	flows map[uint32]FlowInfo
	n     int
	rec   []byte // a record being written, reused
	pkt   []byte // headers being rebuilt, reused
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
	p := &PcapWriter{w: w, flows: map[uint32]FlowInfo{}, link: 1}
	if links = slices.Compact(slices.Sorted(slices.Values(links))); len(links) == 1 {
		p.link = links[0]
	}
	if _, err := w.Write(pcapFileHeader(PayloadSnaplen, p.link)); err != nil {
		return nil, err
	}
	return p, nil
}

// Packets is how many packets were written.
func (p *PcapWriter) Packets() int { return p.n }

// Observe writes the packets of a "packets" event and learns "flow" events.
func (p *PcapWriter) Observe(ev event.Event) error {
	if fi, ok := event.As[FlowInfo](ev); ok {
		if len(p.flows) >= 4*MaxTrackedFlows {
			clear(p.flows) // flows are announced again every minute
		}
		p.flows[fi.ID] = *fi
		return nil
	}
	b, ok := event.As[PacketBatch](ev)
	if !ok {
		return nil
	}
	var err error
	err = eachFramed(b, p.link, &p.pkt, func(id uint32) FlowInfo { return p.flows[id] }, func(pk Packet, data []byte) {
		if err != nil {
			return
		}
		p.rec = appendPcapRecord(p.rec[:0], pk.Time, int(pk.Len), data)
		if _, err = p.w.Write(p.rec); err == nil {
			p.n++
		}
	})
	return err
}

// eachFramed calls fn with each packet of b and its bytes as a file of
// link type fileLink holds them: its captured bytes (behind an Ethernet
// header when its own link type differs), or its headers rebuilt from its
// flow (flow looks it up; pkt is reused for them). A packet of a flow
// storm, with no flow to rebuild its headers from and no bytes, is left
// out.
func eachFramed(b *PacketBatch, fileLink uint16, pkt *[]byte, flow func(uint32) FlowInfo, fn func(Packet, []byte)) error {
	link := ExportLinkType(b)
	if link != fileLink && fileLink != 1 {
		return fmt.Errorf("%s: packets of link type %d in a file of link type %d", b.Iface, link, fileLink)
	}
	i := 0
	b.Each(func(pk Packet) {
		var data []byte
		if i < len(b.Data) && len(b.Data[i]) > 0 {
			data = b.Data[i]
			if link != fileLink {
				data = etherFramed(data, link)
			}
		} else if pk.Flow != 0 {
			if h := AppendHeaders((*pkt)[:0], flow(pk.Flow), pk, fileLink == 1); h != nil {
				*pkt, data = h, h
			}
			if int(pk.Len) >= 14 && len(data) > int(pk.Len) {
				data = data[:pk.Len] // Ethernet padding the wire length did not have
			}
		}
		i++
		if data != nil {
			fn(pk, data)
		}
	})
	return nil
}

// etherFramed puts an Ethernet header in front of a packet of another link
// type, for an Ethernet file: zero MACs and the EtherType of what follows
// (a Linux cooked header gives way to it). nil if it can't say.
func etherFramed(data []byte, link uint16) []byte {
	var et uint16
	switch link {
	case linkTypeLinuxSLL: // 16 bytes, the protocol last
		if len(data) < 16 {
			return nil
		}
		et, data = uint16(data[14])<<8|uint16(data[15]), data[16:]
	case linkTypeLinuxSLL2: // 20 bytes, the protocol first
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

// AppendHeaders rebuilds the headers of a packet recorded without its
// bytes from its flow, appending them to b: from the Ethernet header (with
// the flow's VLAN tags) if ether, else from the IP header; nil for a flow
// that is not IP on an IP-only link. Lengths are the wire's; the TCP and
// UDP checksums are the headers' with the pseudo-header of that length,
// which tcpdump -vv verifies when the packet had no payload (else no tool
// can: the payload is not recorded). An Ethernet frame is padded to the
// 60-byte minimum.
func AppendHeaders(b []byte, fi FlowInfo, pk Packet, ether bool) []byte {
	src, sport := splitEnd(fi.Src)
	dst, dport := splitEnd(fi.Dst)
	l2 := 0  // bytes before the IP header
	et := -1 // where the EtherType of what follows the link headers goes
	if ether {
		b, l2, et = appendEthernet(b, fi)
	}
	setType := func(typ uint16) {
		if et >= 0 {
			binary.BigEndian.PutUint16(b[et:], typ)
		}
	}
	proto := protoNumber(fi.Proto)
	var pseudo []byte // the addresses, for the TCP/UDP checksum
	l4 := 0           // the transport length the IP header claims
	switch {
	case src.Is4() && dst.Is4():
		setType(etherIPv4)
		b, pseudo, l4 = appendIPv4(b, src, dst, proto, int(pk.Len)-l2)
	case src.Is6() && dst.Is6():
		setType(etherIPv6)
		b, pseudo, l4 = appendIPv6(b, src, dst, proto, int(pk.Len)-l2)
	case !ether:
		return nil // nothing but IP on an IP-only link
	default:
		// Not IP: the flow's ends are MAC addresses.
		d, _ := macOr(fi.Dst)
		s, _ := macOr(fi.Src)
		copy(b, d)
		copy(b[6:], s)
		setType(etherTypeOf(fi.Proto))
	}
	if pseudo != nil {
		b = appendTransport(b, proto, sport, dport, pk.Flags, pseudo, l4)
	}
	if ether && len(b) < 60 {
		b = append(b, make([]byte, 60-len(b))...)
	}
	return b
}

// appendEthernet appends an Ethernet header with the flow's VLAN tags,
// its addresses and EtherType left zero. l2 is its length, et the offset
// of the EtherType of what follows it (after the tags).
func appendEthernet(b []byte, fi FlowInfo) (_ []byte, l2, et int) {
	b = append(b, make([]byte, 14)...)
	l2, et = 14, 12
	var tags []uint16
	if fi.VLAN != 0 || fi.InnerVLAN != 0 {
		tags = append(tags, fi.VLAN)
	}
	if fi.InnerVLAN != 0 {
		tags = append(tags, fi.InnerVLAN)
	}
	for i, v := range tags {
		typ := uint16(EtherDot1Q)
		if i == 0 && len(tags) == 2 {
			typ = etherQinQ
		}
		binary.BigEndian.PutUint16(b[et:], typ)
		b = binary.BigEndian.AppendUint16(b, v&0xfff)
		b = append(b, 0, 0)
		l2, et = l2+4, l2+2
	}
	return b, l2, et
}

// appendIPv4 appends an IPv4 header, with its checksum, of a packet of n
// bytes from the IP header on. pseudo is its addresses (in b), l4 the
// transport length it claims.
func appendIPv4(b []byte, src, dst netip.Addr, proto byte, n int) (_, pseudo []byte, l4 int) {
	ip := len(b)
	b = append(b, 0x45, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(max(n, 20)))
	b = append(b, 0, 0, 0, 0, 64, proto, 0, 0)
	b = append(append(b, src.AsSlice()...), dst.AsSlice()...)
	binary.BigEndian.PutUint16(b[ip+10:], ^foldSum(sum16(b[ip:ip+20], 0)))
	return b, b[ip+12 : ip+20], n - 20
}

// appendIPv6 appends an IPv6 header of a packet of n bytes from the IP
// header on. pseudo is its addresses (in b), l4 the transport length it
// claims.
func appendIPv6(b []byte, src, dst netip.Addr, proto byte, n int) (_, pseudo []byte, l4 int) {
	ip := len(b)
	b = append(b, 0x60, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(max(n-40, 0)))
	b = append(b, proto, 64)
	b = append(append(b, src.AsSlice()...), dst.AsSlice()...)
	return b, b[ip+8 : ip+40], n - 40
}

// appendTransport appends a TCP header with flags, or a UDP header, of a
// transport length of l4 (at least the header's), with its checksum over
// the pseudo-header made of the addresses pseudo. Any other protocol
// appends nothing.
func appendTransport(b []byte, proto byte, sport, dport uint16, flags byte, pseudo []byte, l4 int) []byte {
	th, at := len(b), 0 // the transport header, and its checksum's offset in it
	switch proto {
	case 6:
		at = 16
		l4 = max(l4, 20)
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, 5<<4, flags, 0xff, 0xff, 0, 0, 0, 0)
	case 17:
		l4, at = max(l4, 8), 6
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
		b = binary.BigEndian.AppendUint16(b, uint16(l4))
		b = append(b, 0, 0)
	}
	if th < len(b) {
		c := ^foldSum(sum16(b[th:], sum16(pseudo, uint32(proto)+uint32(l4)&0xffff+uint32(l4)>>16)))
		if c == 0 && proto == 17 {
			c = 0xffff // 0 would say the sender computed none
		}
		binary.BigEndian.PutUint16(b[th+at:], c)
	}
	return b
}

// sum16 adds b as big-endian 16-bit words to sum (the Internet checksum
// before folding); an odd last byte is padded with zero.
func sum16(b []byte, sum uint32) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// foldSum folds the carries of a one's complement sum into 16 bits.
func foldSum(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
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

func etherTypeOf(proto string) uint16 {
	if proto == "arp" {
		return 0x0806
	}
	if n, err := strconv.ParseUint(strings.TrimPrefix(proto, "ethertype-0x"), 16, 16); err == nil {
		return uint16(n)
	}
	return 0
}
