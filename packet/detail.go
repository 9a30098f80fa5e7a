package packet

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
)

// Layer is one header of a packet decoded for a person: one block of the
// packets pane's detail view, like a node of Wireshark's tree or a clause
// of tcpdump -vv. Describe makes them; the capture path never does (it
// reads headers at fixed offsets, packetDecoder), so this decoder can be
// thorough and slow.
type Layer struct {
	Name   string  // "Ethernet", "802.1Q", "IPv4", "TCP", "DNS", "ICMP", "VRRP", "Payload", …
	Quoted bool    // inside the datagram an ICMP error quotes
	Off    int     // where the header starts in the packet's bytes
	Len    int     // its length in bytes (as far as it was captured)
	Fields []Field // in header order
	Note   string  // what is wrong with it: "truncated: 12 of 20 bytes", "bad checksum", …
}

// Field is one named value of a layer. Values from the wire that are text
// (DNS names, TXT strings) are escaped as dig does (\DDD), so a Field holds
// no control character; the UI sanitizes them again all the same.
type Field struct{ Name, Value string }

// Bounds on what one packet can make Describe do and return.
const (
	maxDetailLayers  = 24 // IPv6 extension headers, tags and a quoted datagram included
	maxDNSRecords    = 24 // questions and records listed; the rest are counted
	maxDNSNameJumps  = 32 // compression pointers followed in one name
	maxIPv6ExtHeader = 8
	maxTCPOptions    = 40 // a 40-byte option space holds at most 40 NOPs
)

// Describe decodes a packet's captured bytes, framed as the pcap link type
// link says (0 or 1 Ethernet, 101/12/228/229 raw IP, 113 and 276 Linux
// cooked), into its layers, outermost first. It stops at the first header
// it cannot read whole (that layer's Note says why) or does not know; the
// bytes after the last header it read are a "Payload" layer. It never
// panics, whatever the bytes (FuzzDescribe).
func Describe(data []byte, link uint16) []Layer {
	d := &detail{data: data}
	switch link {
	case 0, linkTypeEthernet:
		d.ethernet(0)
	case LinkTypeRaw, linkTypeRawOld:
		d.rawIP(0, len(data))
	case linkTypeIPv4:
		d.ipv4(0, len(data))
	case linkTypeIPv6:
		d.ipv6(0, len(data))
	case linkTypeLinuxSLL:
		d.sll(0)
	case linkTypeLinuxSLL2:
		d.sll2(0)
	default:
		d.payload(0, len(data), fmt.Sprintf("link type %d is not decoded", link))
	}
	return d.layers
}

// detail is one Describe call.
type detail struct {
	data   []byte
	layers []Layer
	quoted bool // decoding an ICMP error's quoted datagram
}

// add appends a layer and returns it for its fields; nil once there are
// too many (the caller stops).
func (d *detail) add(name string, off, n int) *Layer {
	if len(d.layers) >= maxDetailLayers {
		return nil
	}
	d.layers = append(d.layers, Layer{Name: name, Quoted: d.quoted, Off: off, Len: n})
	return &d.layers[len(d.layers)-1]
}

// need adds a layer of n bytes at off if they are there (before end), or
// a truncated one saying how many were. ok is false when it was cut.
func (d *detail) need(name string, off, end, n int) (l *Layer, ok bool) {
	have := max(end-off, 0)
	if have < n {
		if l = d.add(name, off, have); l != nil {
			l.Note = fmt.Sprintf("truncated: %d of %d bytes", have, n)
		}
		return l, false
	}
	l = d.add(name, off, n)
	return l, l != nil
}

// payload ends the decoding with the bytes left, if any.
func (d *detail) payload(off, end int, note string) {
	if end <= off && note == "" {
		return
	}
	if l := d.add("Payload", off, max(end-off, 0)); l != nil {
		l.f("length", fmt.Sprintf("%d bytes", max(end-off, 0)))
		l.Note = note
	}
}

func (l *Layer) f(name, value string) { l.Fields = append(l.Fields, Field{name, value}) }

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

func mac(b []byte) string { return net.HardwareAddr(b).String() }

var etherTypeNames = map[uint16]string{0x0800: "IPv4", 0x86dd: "IPv6", 0x0806: "ARP", 0x8035: "RARP",
	0x8100: "802.1Q", 0x88a8: "802.1ad", 0x9100: "802.1Q (QinQ)", 0x88cc: "LLDP", 0x8847: "MPLS",
	0x8848: "MPLS multicast", 0x8863: "PPPoE discovery", 0x8864: "PPPoE session", 0x88e5: "MACsec",
	0x888e: "EAPOL", 0x8809: "slow protocols (LACP)", 0x0842: "Wake-on-LAN", 0x88f7: "PTP"}

func etherTypeText(et uint16) string {
	if n, ok := etherTypeNames[et]; ok {
		return fmt.Sprintf("%s (0x%04x)", n, et)
	}
	if et <= 1500 {
		return fmt.Sprintf("802.3 length %d", et)
	}
	return fmt.Sprintf("0x%04x", et)
}

func (d *detail) ethernet(off int) {
	l, ok := d.need("Ethernet", off, len(d.data), 14)
	if !ok {
		return
	}
	b := d.data[off:]
	et := be16(b[12:])
	l.f("src", mac(b[6:12]))
	l.f("dst", mac(b[0:6]))
	l.f("type", etherTypeText(et))
	d.etherPayload(off+14, et)
}

// etherPayload decodes what an EtherType announces.
func (d *detail) etherPayload(off int, et uint16) {
	end := len(d.data)
	switch et {
	case EtherDot1Q, etherQinQ, 0x9100:
		name := "802.1Q"
		if et != EtherDot1Q {
			name = "802.1ad"
		}
		l, ok := d.need(name, off, end, 4)
		if !ok {
			return
		}
		tci, inner := be16(d.data[off:]), be16(d.data[off+2:])
		l.f("vlan", fmt.Sprint(tci&0xfff))
		l.f("priority", fmt.Sprint(tci>>13))
		if tci&0x1000 != 0 {
			l.f("dei", "1")
		}
		l.f("type", etherTypeText(inner))
		d.etherPayload(off+4, inner)
	case etherIPv4:
		d.ipv4(off, end)
	case etherIPv6:
		d.ipv6(off, end)
	case etherARP, 0x8035:
		d.arp(off)
	default:
		d.payload(off, end, "")
	}
}

// rawIP is an IP packet of either version, as a tun interface hands it over.
func (d *detail) rawIP(off, end int) {
	if off >= end {
		d.payload(off, end, "no bytes")
		return
	}
	switch d.data[off] >> 4 {
	case 4:
		d.ipv4(off, end)
	case 6:
		d.ipv6(off, end)
	default:
		d.payload(off, end, fmt.Sprintf("IP version %d", d.data[off]>>4))
	}
}

var sllPacketTypes = [...]string{"to us", "broadcast", "multicast", "to another host", "sent by us"}

func sllType(t uint16) string {
	if int(t) < len(sllPacketTypes) {
		return sllPacketTypes[t]
	}
	return fmt.Sprint(t)
}

// sll is LINKTYPE_LINUX_SLL, tcpdump -i any's 16-byte cooked header.
func (d *detail) sll(off int) {
	l, ok := d.need("Linux cooked", off, len(d.data), 16)
	if !ok {
		return
	}
	b := d.data[off:]
	l.f("packet", sllType(be16(b)))
	l.f("link", fmt.Sprintf("ARPHRD %d", be16(b[2:])))
	if n := int(be16(b[4:])); n > 0 {
		l.f("address", mac(b[6:6+min(n, 8)]))
	}
	proto := be16(b[14:])
	l.f("type", etherTypeText(proto))
	d.etherPayload(off+16, proto)
}

// sll2 is LINKTYPE_LINUX_SLL2: 20 bytes, the protocol first.
func (d *detail) sll2(off int) {
	l, ok := d.need("Linux cooked v2", off, len(d.data), 20)
	if !ok {
		return
	}
	b := d.data[off:]
	proto := be16(b)
	l.f("interface index", fmt.Sprint(be32(b[4:])))
	l.f("link", fmt.Sprintf("ARPHRD %d", be16(b[8:])))
	l.f("packet", sllType(uint16(b[10])))
	if n := int(b[11]); n > 0 {
		l.f("address", mac(b[12:12+min(n, 8)]))
	}
	l.f("type", etherTypeText(proto))
	d.etherPayload(off+20, proto)
}

func (d *detail) arp(off int) {
	l, ok := d.need("ARP", off, len(d.data), 8)
	if !ok {
		return
	}
	b := d.data[off:]
	hlen, plen, op := int(b[4]), int(b[5]), be16(b[6:])
	ops := map[uint16]string{1: "request", 2: "reply", 3: "RARP request", 4: "RARP reply"}
	opText := ops[op]
	if opText == "" {
		opText = fmt.Sprint(op)
	}
	l.f("operation", opText)
	n := 8 + 2*hlen + 2*plen
	if len(b) < n {
		l.Note = fmt.Sprintf("truncated: %d of %d bytes", len(b), n)
		return
	}
	l.Len = n
	pa := func(a []byte) string { // a protocol address: IPv4 if it has the length of one
		if len(a) == 4 {
			return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3])
		}
		return fmt.Sprintf("%x", a)
	}
	sha, spa := b[8:8+hlen], b[8+hlen:8+hlen+plen]
	tha, tpa := b[8+hlen+plen:8+2*hlen+plen], b[8+2*hlen+plen:n]
	l.f("sender", pa(spa)+" at "+mac(sha))
	l.f("target", pa(tpa)+" at "+mac(tha))
	switch op {
	case 1:
		l.f("says", "who has "+pa(tpa)+"? tell "+pa(spa))
	case 2:
		l.f("says", pa(spa)+" is at "+mac(sha))
	}
	d.payload(off+n, len(d.data), "")
}

// Hex is the classic hex dump of b: offset, 16 bytes in hex, and the bytes
// as ASCII ('.' for anything that is not printable), perLine bytes a line.
func Hex(b []byte, perLine int) []string {
	if perLine <= 0 {
		perLine = 16
	}
	var out []string
	for off := 0; off < len(b); off += perLine {
		row := b[off:min(off+perLine, len(b))]
		var s strings.Builder
		fmt.Fprintf(&s, "%04x  ", off)
		for i := range perLine {
			switch {
			case i < len(row):
				fmt.Fprintf(&s, "%02x", row[i])
			default:
				s.WriteString("  ")
			}
			if i%2 == 1 {
				s.WriteByte(' ')
			}
		}
		s.WriteByte(' ')
		for _, c := range row {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			s.WriteByte(c)
		}
		out = append(out, s.String())
	}
	return out
}
