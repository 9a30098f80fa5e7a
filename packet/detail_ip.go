package packet

import (
	"fmt"
	"net/netip"
	"strings"
)

var ipProtoNames = map[uint8]string{0: "IPv6 hop-by-hop", 1: "ICMP", 2: "IGMP", 4: "IPv4 in IP", 6: "TCP",
	17: "UDP", 41: "IPv6 in IP", 43: "IPv6 routing", 44: "IPv6 fragment", 47: "GRE", 50: "ESP", 51: "AH",
	58: "ICMPv6", 59: "no next header", 60: "IPv6 destination options", 89: "OSPF", 103: "PIM", 112: "VRRP",
	132: "SCTP", 135: "IPv6 mobility"}

func ipProtoText(p uint8) string {
	if n, ok := ipProtoNames[p]; ok {
		return fmt.Sprintf("%s (%d)", n, p)
	}
	return fmt.Sprint(p)
}

func addr4(b []byte) string { return netip.AddrFrom4([4]byte(b[:4])).String() }
func addr16(b []byte) string {
	return netip.AddrFrom16([16]byte(b[:16])).String()
}

// ipv4 decodes an IPv4 header at off and what it carries, up to end.
func (d *detail) ipv4(off, end int) {
	l, ok := d.need("IPv4", off, end, 20)
	if !ok {
		return
	}
	b := d.data[off:end]
	ihl := int(b[0]&15) * 4
	total := int(be16(b[2:]))
	l.f("src", addr4(b[12:]))
	l.f("dst", addr4(b[16:]))
	l.f("protocol", ipProtoText(b[9]))
	l.f("ttl", fmt.Sprint(b[8]))
	l.f("length", fmt.Sprint(total))
	l.f("id", fmt.Sprintf("0x%04x", be16(b[4:])))
	var flags []string
	frag := be16(b[6:])
	if frag&0x4000 != 0 {
		flags = append(flags, "DF")
	}
	if frag&0x2000 != 0 {
		flags = append(flags, "MF")
	}
	if frag&0x8000 != 0 {
		flags = append(flags, "reserved bit")
	}
	if len(flags) > 0 {
		l.f("flags", strings.Join(flags, " "))
	}
	fragOff := int(frag&0x1fff) * 8
	if fragOff != 0 {
		l.f("fragment offset", fmt.Sprint(fragOff))
	}
	l.f("tos", fmt.Sprintf("0x%02x (dscp %d, ecn %d)", b[1], b[1]>>2, b[1]&3))
	switch {
	case b[0]>>4 != 4:
		l.Note = fmt.Sprintf("version %d in an IPv4 header", b[0]>>4)
		return
	case ihl < 20:
		l.Note = fmt.Sprintf("header length %d, under 20", ihl)
		return
	case len(b) < ihl:
		l.Len, l.Note = len(b), fmt.Sprintf("truncated: %d of %d header bytes", len(b), ihl)
		return
	}
	l.Len = ihl
	l.f("header length", fmt.Sprint(ihl))
	sum := be16(b[10:])
	if c := ^foldSum(sum16(b[:ihl], 0)); c == 0 {
		l.f("checksum", fmt.Sprintf("0x%04x ok", sum))
	} else {
		l.f("checksum", fmt.Sprintf("0x%04x bad", sum))
		l.Note = "bad header checksum"
	}
	if ihl > 20 {
		l.f("options", ipv4Options(b[20:ihl]))
	}
	// The datagram ends where its total length says (Ethernet pads short
	// frames), or where the capture did.
	pend := off + len(b)
	if total >= ihl && off+total < pend {
		pend = off + total
	}
	if fragOff != 0 {
		d.payload(off+ihl, pend, "a later fragment: its transport header is in the first")
		return
	}
	d.transport(b[9], off+ihl, pend, 4)
}

var ipv4OptionNames = map[uint8]string{7: "record route", 68: "timestamp", 130: "security", 131: "loose source route",
	137: "strict source route", 148: "router alert", 136: "stream id", 149: "selective directed broadcast"}

func ipv4Options(b []byte) string {
	var out []string
	for len(b) > 0 && len(out) < 40 {
		t := b[0]
		if t == 0 {
			out = append(out, "eol")
			break
		}
		if t == 1 {
			out, b = append(out, "nop"), b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			out = append(out, fmt.Sprintf("bad option %d length", t))
			break
		}
		name := ipv4OptionNames[t]
		if name == "" {
			name = fmt.Sprintf("option %d", t)
		}
		out, b = append(out, fmt.Sprintf("%s (%d bytes)", name, b[1])), b[b[1]:]
	}
	return strings.Join(out, ", ")
}

// ipv6 decodes an IPv6 header at off, its extension headers and what they
// carry, up to end.
func (d *detail) ipv6(off, end int) {
	l, ok := d.need("IPv6", off, end, 40)
	if !ok {
		return
	}
	b := d.data[off:end]
	plen := int(be16(b[4:]))
	l.f("src", addr16(b[8:]))
	l.f("dst", addr16(b[24:]))
	l.f("next header", ipProtoText(b[6]))
	l.f("hop limit", fmt.Sprint(b[7]))
	l.f("payload length", fmt.Sprint(plen))
	tc := (be16(b) >> 4) & 0xff
	l.f("traffic class", fmt.Sprintf("0x%02x (dscp %d, ecn %d)", tc, tc>>2, tc&3))
	if fl := be32(b) & 0xfffff; fl != 0 {
		l.f("flow label", fmt.Sprintf("0x%05x", fl))
	}
	if b[0]>>4 != 6 {
		l.Note = fmt.Sprintf("version %d in an IPv6 header", b[0]>>4)
		return
	}
	pend := off + len(b)
	if plen > 0 && off+40+plen < pend { // 0 is a jumbogram's, whose length is in hop-by-hop
		pend = off + 40 + plen
	}
	next, at := b[6], off+40
	for range maxIPv6ExtHeader {
		switch next {
		case 0, 43, 60, 135:
			var n int
			if next, n = d.ipv6Ext(next, at, pend); n == 0 {
				return
			}
			at += n
			continue
		case 44:
			l, ok := d.need("IPv6 fragment", at, pend, 8)
			if !ok {
				return
			}
			f := d.data[at:]
			fo := int(be16(f[2:]) &^ 7) // the offset in 8-byte units, times 8
			l.f("next header", ipProtoText(f[0]))
			l.f("offset", fmt.Sprint(fo))
			if be16(f[2:])&1 != 0 {
				l.f("more fragments", "yes")
			}
			l.f("id", fmt.Sprintf("0x%08x", be32(f[4:])))
			if fo != 0 {
				d.payload(at+8, pend, "a later fragment: its transport header is in the first")
				return
			}
			next, at = f[0], at+8
			continue
		case 51: // AH: (len+2) 4-byte units
			l, ok := d.need("IPv6 AH", at, pend, 8)
			if !ok {
				return
			}
			n := (int(d.data[at+1]) + 2) * 4
			l.f("next header", ipProtoText(d.data[at]))
			l.f("spi", fmt.Sprintf("0x%08x", be32(d.data[at+4:])))
			if at+n > pend {
				l.Note = "truncated"
				return
			}
			l.Len = n
			next, at = d.data[at], at+n
			continue
		}
		break
	}
	d.transport(next, at, pend, 6)
}

var ipv6ExtNames = map[uint8]string{0: "IPv6 hop-by-hop", 43: "IPv6 routing", 60: "IPv6 destination options", 135: "IPv6 mobility"}

// ipv6Ext decodes an extension header of (len+1)×8 bytes; n is 0 when it
// could not be read.
func (d *detail) ipv6Ext(kind uint8, at, end int) (next uint8, n int) {
	l, ok := d.need(ipv6ExtNames[kind], at, end, 8)
	if !ok {
		return 0, 0
	}
	b := d.data[at:end]
	n = (int(b[1]) + 1) * 8
	next = b[0]
	l.f("next header", ipProtoText(next))
	if len(b) < n {
		l.Len, l.Note = len(b), fmt.Sprintf("truncated: %d of %d bytes", len(b), n)
		return 0, 0
	}
	l.Len = n
	switch kind {
	case 0, 60:
		l.f("options", ipv6Options(b[2:n]))
	case 43:
		l.f("routing type", fmt.Sprint(b[2]))
		l.f("segments left", fmt.Sprint(b[3]))
	}
	return next, n
}

func ipv6Options(b []byte) string {
	var out []string
	for len(b) > 0 && len(out) < 40 {
		t := b[0]
		if t == 0 { // Pad1
			b = b[1:]
			continue
		}
		if len(b) < 2 || 2+int(b[1]) > len(b) {
			out = append(out, fmt.Sprintf("bad option 0x%02x length", t))
			break
		}
		v := b[2 : 2+int(b[1])]
		switch {
		case t == 1: // PadN
		case t == 5 && len(v) == 2:
			out = append(out, fmt.Sprintf("router alert %d", be16(v)))
		case t == 0xc2 && len(v) == 4:
			out = append(out, fmt.Sprintf("jumbo payload %d", be32(v)))
		default:
			out = append(out, fmt.Sprintf("option 0x%02x (%d bytes)", t, len(v)))
		}
		b = b[2+len(v):]
	}
	if len(out) == 0 {
		return "padding"
	}
	return strings.Join(out, ", ")
}

// transport decodes the protocol an IP header announced.
func (d *detail) transport(proto uint8, off, end, ipVer int) {
	switch {
	case proto == 6:
		d.tcp(off, end)
	case proto == 17:
		d.udp(off, end)
	case proto == 1 && ipVer == 4:
		d.icmp4(off, end)
	case proto == 58:
		d.icmp6(off, end)
	case proto == 112:
		d.vrrp(off, end, ipVer)
	case proto == 2 && ipVer == 4:
		d.igmp(off, end)
	case proto == 4 && !d.quoted:
		d.ipv4(off, end)
	case proto == 41 && !d.quoted:
		d.ipv6(off, end)
	default:
		d.payload(off, end, "")
	}
}

// quotedPart marks a transport header an ICMP error quotes in part
// (RFC 792 asks for its first 8 bytes only): what is there is listed.
func (d *detail) quotedPart(name string, off, end, n int) (*Layer, []byte) {
	have := max(end-off, 0)
	l := d.add(name, off, min(have, n))
	if l == nil {
		return nil, nil
	}
	if have < n {
		l.Note = fmt.Sprintf("quoted: its first %d of %d bytes", have, n)
	}
	return l, d.data[off : off+min(have, n)]
}

var tcpFlagNames = [...]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

func (d *detail) tcp(off, end int) {
	var l *Layer
	var b []byte
	if d.quoted {
		if l, b = d.quotedPart("TCP", off, end, 20); l == nil || len(b) < 4 {
			return
		}
	} else {
		var ok bool
		if l, ok = d.need("TCP", off, end, 20); !ok {
			return
		}
		b = d.data[off:end]
	}
	l.f("src port", fmt.Sprint(be16(b)))
	l.f("dst port", fmt.Sprint(be16(b[2:])))
	if len(b) >= 8 {
		l.f("seq", fmt.Sprint(be32(b[4:])))
	}
	if len(b) < 20 {
		return
	}
	flags := b[13]
	if flags&FlagACK != 0 {
		l.f("ack", fmt.Sprint(be32(b[8:])))
	}
	var names []string
	for i, n := range tcpFlagNames {
		if flags&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	l.f("flags", fmt.Sprintf("%s (%s)", tcpFlagWord(flags), strings.Join(names, " ")))
	l.f("window", fmt.Sprint(be16(b[14:])))
	if flags&FlagURG != 0 {
		l.f("urgent", fmt.Sprint(be16(b[18:])))
	}
	l.f("checksum", fmt.Sprintf("0x%04x", be16(b[16:])))
	hl := int(b[12]>>4) * 4
	switch {
	case hl < 20:
		l.Note = fmt.Sprintf("header length %d, under 20", hl)
		return
	case len(b) < hl:
		if !d.quoted {
			l.Len, l.Note = len(b), fmt.Sprintf("truncated: %d of %d header bytes", len(b), hl)
		}
		return
	}
	l.Len = hl
	if hl > 20 {
		l.f("options", tcpOptions(b[20:hl]))
	}
	if d.quoted {
		return
	}
	at := off + hl
	sport, dport := be16(b), be16(b[2:])
	// DNS over TCP: a two-byte length, then the message.
	if (sport == 53 || dport == 53) && end-at >= 14 && int(be16(d.data[at:])) <= end-at-2 {
		if p := d.add("DNS length", at, 2); p != nil {
			p.f("length", fmt.Sprint(be16(d.data[at:])))
			d.dns(at+2, at+2+int(be16(d.data[at:])))
			d.payload(at+2+int(be16(d.data[at:])), end, "")
		}
		return
	}
	d.payload(at, end, "")
}

// tcpFlagWord is tcpdump's notation: [S], [S.], [P.], [R.], [.].
func tcpFlagWord(f uint8) string {
	var b strings.Builder
	b.WriteByte('[')
	for _, c := range []struct {
		bit uint8
		ch  byte
	}{{FlagSYN, 'S'}, {FlagFIN, 'F'}, {FlagPSH, 'P'}, {FlagRST, 'R'}, {FlagURG, 'U'}, {FlagECE, 'E'}, {FlagCWR, 'W'}} {
		if f&c.bit != 0 {
			b.WriteByte(c.ch)
		}
	}
	if f&FlagACK != 0 {
		b.WriteByte('.')
	}
	b.WriteByte(']')
	return b.String()
}

// tcpOptions lists TCP options as tcpdump -v does: mss 1460, nop,
// wscale 7, sackOK, TS val 1 ecr 0, sack 1 {100:200}.
func tcpOptions(b []byte) string {
	var out []string
	for n := 0; len(b) > 0 && n < maxTCPOptions; n++ {
		kind := b[0]
		if kind == 0 {
			out = append(out, "eol")
			break
		}
		if kind == 1 {
			out, b = append(out, "nop"), b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			out = append(out, fmt.Sprintf("bad option %d length", kind))
			break
		}
		v := b[2:b[1]]
		b = b[b[1]:]
		switch {
		case kind == 2 && len(v) == 2:
			out = append(out, fmt.Sprintf("mss %d", be16(v)))
		case kind == 3 && len(v) == 1:
			out = append(out, fmt.Sprintf("wscale %d", v[0]))
		case kind == 4 && len(v) == 0:
			out = append(out, "sackOK")
		case kind == 5 && len(v)%8 == 0 && len(v) > 0:
			var blocks []string
			for i := 0; i < len(v); i += 8 {
				blocks = append(blocks, fmt.Sprintf("{%d:%d}", be32(v[i:]), be32(v[i+4:])))
			}
			out = append(out, fmt.Sprintf("sack %d %s", len(blocks), strings.Join(blocks, "")))
		case kind == 8 && len(v) == 8:
			out = append(out, fmt.Sprintf("TS val %d ecr %d", be32(v), be32(v[4:])))
		case kind == 19:
			out = append(out, "md5sig")
		case kind == 28 && len(v) == 2:
			out = append(out, fmt.Sprintf("user timeout %d", be16(v)))
		case kind == 29:
			out = append(out, "tcp-ao")
		case kind == 30 && len(v) >= 1:
			out = append(out, fmt.Sprintf("mptcp subtype %d", v[0]>>4))
		case kind == 34:
			out = append(out, fmt.Sprintf("tfo cookie %x", v))
		default:
			out = append(out, fmt.Sprintf("option %d (%d bytes)", kind, len(v)))
		}
	}
	return strings.Join(out, ", ")
}

func (d *detail) udp(off, end int) {
	l, ok := d.need("UDP", off, end, 8)
	if !ok {
		return
	}
	b := d.data[off:end]
	sport, dport, ulen := be16(b), be16(b[2:]), int(be16(b[4:]))
	l.f("src port", fmt.Sprint(sport))
	l.f("dst port", fmt.Sprint(dport))
	l.f("length", fmt.Sprint(ulen))
	l.f("checksum", fmt.Sprintf("0x%04x", be16(b[6:])))
	if d.quoted {
		return
	}
	pend := end
	if ulen >= 8 && off+ulen < pend {
		pend = off + ulen
	}
	switch {
	case isDNSPort(sport) || isDNSPort(dport):
		d.dns(off+8, pend)
	default:
		d.payload(off+8, pend, "")
	}
}

// isDNSPort: DNS, mDNS and LLMNR share the message format.
func isDNSPort(p uint16) bool { return p == 53 || p == 5353 || p == 5355 }

func (d *detail) igmp(off, end int) {
	l, ok := d.need("IGMP", off, end, 8)
	if !ok {
		return
	}
	b := d.data[off:]
	types := map[uint8]string{0x11: "membership query", 0x12: "v1 membership report", 0x16: "v2 membership report",
		0x17: "leave group", 0x22: "v3 membership report"}
	t := types[b[0]]
	if t == "" {
		t = fmt.Sprintf("type 0x%02x", b[0])
	}
	l.f("type", t)
	if b[0] != 0x22 {
		l.f("group", addr4(b[4:]))
	}
	d.payload(off+8, end, "")
}
