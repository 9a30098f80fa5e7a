package filter

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// primitive compiles one "qualifiers value" pair such as "src net 10.0.0.0/8".
func (p *parser) primitive(q qual, v token) (*pred, error) {
	typ := q.typ
	if typ == "" {
		typ = "host"
	}
	part := q.String()
	if q.proto == "ether" {
		return nil, unsupported(part, "link-layer (MAC address, ethertype) primitives are not implemented")
	}
	switch typ {
	case "host", "net":
		return p.hostNet(q, typ, part, v)
	case "port", "portrange":
		if q.proto != "" && q.proto != "tcp" && q.proto != "udp" && q.proto != "sctp" {
			return nil, unsupported(part, "ports need tcp, udp, sctp or no protocol")
		}
		lo, hi, err := portValue(typ, v)
		if err != nil {
			return nil, err
		}
		return p.l.ports(q.proto, q.dir, lo, hi), nil
	case "proto":
		if q.dir != "" {
			return nil, &SyntaxError{Pos: v.pos, Msg: "'" + part + "': proto takes no src/dst"}
		}
		n, err := protoValue(v)
		if err != nil {
			return nil, err
		}
		switch q.proto {
		case "":
			return or(p.l.ipProto4(n), p.l.ipProto6(n)), nil
		case "ip":
			return p.l.ipProto4(n), nil
		case "ip6":
			return p.l.ipProto6(n), nil
		}
		return nil, unsupported(part, "only ip proto, ip6 proto and proto")
	}
	return nil, unsupported(part, "")
}

// String is the qualifiers as written, for error messages.
func (q qual) String() string {
	var w []string
	for _, s := range []string{q.proto, dirWords(q.dir), q.typ} {
		if s != "" {
			w = append(w, s)
		}
	}
	return strings.Join(w, " ")
}

func dirWords(d string) string {
	switch d {
	case "or":
		return "src or dst"
	case "and":
		return "src and dst"
	}
	return d
}

func (p *parser) hostNet(q qual, typ, part string, v token) (*pred, error) {
	text := v.text
	if strings.Contains(text, ":") {
		return p.hostNet6(q, typ, part, v)
	}
	if q.proto == "ip6" {
		return nil, &SyntaxError{Pos: v.pos, Msg: "'ip6' applied to the IPv4 address " + text}
	}
	if q.proto != "" && q.proto != "ip" && q.proto != "arp" && q.proto != "rarp" {
		return nil, unsupported(part, "an IPv4 host or net takes ip, arp, rarp or no protocol")
	}
	if _, isNum := parseNumber(strings.ReplaceAll(text, ".", "")); !isNum || strings.HasSuffix(text, ".") {
		return nil, unsupported(typ+" "+text, "host names need DNS; use an address")
	}
	octets := strings.Split(text, ".")
	var addr uint32
	for i, o := range octets {
		n, err := strconv.ParseUint(o, 10, 8)
		if err != nil || len(octets) > 4 {
			return nil, &SyntaxError{Pos: v.pos, Msg: "bad IPv4 address '" + text + "'"}
		}
		addr |= uint32(n) << (24 - 8*i)
	}
	mask := ^uint32(0) << (32 - 8*len(octets))
	if typ == "host" && len(octets) != 4 {
		return nil, unsupported("host "+text, "libpcap treats a partial address as a net; write net "+text)
	}
	switch {
	case p.peekOp("/"):
		if len(octets) != 4 && typ == "net" {
			return nil, unsupported("net "+text+"/len", "write all four octets")
		}
		p.next()
		lt := p.next()
		n, ok := parseNumber(lt.text)
		if !ok || n > 32 {
			return nil, &SyntaxError{Pos: lt.pos, Msg: "bad prefix length " + describe(lt)}
		}
		mask = 0
		if n > 0 {
			mask = ^uint32(0) << (32 - n)
		}
	case p.peekWord("mask"):
		p.next()
		mt := p.next()
		m, err := netip.ParseAddr(mt.text)
		if err != nil || !m.Is4() || len(octets) != 4 {
			return nil, &SyntaxError{Pos: mt.pos, Msg: "bad netmask " + describe(mt)}
		}
		b := m.As4()
		mask = binary.BigEndian.Uint32(b[:])
	}
	if typ == "host" && mask != ^uint32(0) {
		return nil, &SyntaxError{Pos: v.pos, Msg: "a mask needs 'net', not 'host'"}
	}
	if addr&^mask != 0 {
		return nil, &SyntaxError{Pos: v.pos, Msg: "non-network bits set in '" + text + "'"}
	}
	return p.l.hostNet4(q.proto, q.dir, addr, mask), nil
}

func (p *parser) hostNet6(q qual, typ, part string, v token) (*pred, error) {
	if q.proto != "" && q.proto != "ip6" {
		return nil, unsupported(joinWords(part, v.text), "IPv6 addresses take ip6 or no protocol")
	}
	a, err := netip.ParseAddr(v.text)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return nil, &SyntaxError{Pos: v.pos, Msg: "bad IPv6 address '" + v.text + "'"}
	}
	bits := 128
	if p.peekOp("/") {
		p.next()
		lt := p.next()
		n, ok := parseNumber(lt.text)
		if !ok || n > 128 {
			return nil, &SyntaxError{Pos: lt.pos, Msg: "bad prefix length " + describe(lt)}
		}
		bits = int(n)
	} else if p.peekWord("mask") {
		return nil, &SyntaxError{Pos: p.peek().pos, Msg: "mask syntax is for IPv4 networks only"}
	}
	if typ == "host" && bits != 128 {
		return nil, &SyntaxError{Pos: v.pos, Msg: "a prefix needs 'net', not 'host'"}
	}
	b := a.As16()
	var addr, mask [4]uint32
	for i := 0; i < 4; i++ {
		addr[i] = binary.BigEndian.Uint32(b[4*i:])
		switch left := bits - 32*i; {
		case left >= 32:
			mask[i] = ^uint32(0)
		case left > 0:
			mask[i] = ^uint32(0) << (32 - left)
		}
		if addr[i]&^mask[i] != 0 {
			return nil, &SyntaxError{Pos: v.pos, Msg: "non-network bits set in '" + v.text + "'"}
		}
	}
	return p.l.hostNet6(q.dir, addr, mask), nil
}

func portValue(typ string, v token) (uint32, uint32, error) {
	one := func(s string) (uint32, error) {
		n, ok := parseNumber(s)
		if !ok {
			if s != "" && (s[0] < '0' || s[0] > '9') {
				return 0, unsupported("port "+s, "service names need /etc/services; use a number")
			}
			return 0, &SyntaxError{Pos: v.pos, Msg: "bad port '" + s + "'"}
		}
		if n > 65535 {
			return 0, &SyntaxError{Pos: v.pos, Msg: "illegal port number " + s + " > 65535"}
		}
		return n, nil
	}
	if typ == "port" {
		n, err := one(v.text)
		return n, n, err
	}
	a, b, ok := strings.Cut(v.text, "-")
	if !ok {
		return 0, 0, &SyntaxError{Pos: v.pos, Msg: "portrange needs LOW-HIGH, got '" + v.text + "'"}
	}
	lo, err := one(a)
	if err != nil {
		return 0, 0, err
	}
	hi, err := one(b)
	if err != nil {
		return 0, 0, err
	}
	if lo > hi {
		lo, hi = hi, lo // as libpcap does
	}
	return lo, hi, nil
}

func protoValue(v token) (uint32, error) {
	if n, ok := parseNumber(v.text); ok {
		if n > 255 {
			return 0, &SyntaxError{Pos: v.pos, Msg: "protocol number " + v.text + " > 255"}
		}
		return n, nil
	}
	if n, ok := protoNames[strings.TrimPrefix(v.text, `\`)]; ok {
		return n, nil
	}
	return 0, unsupported("proto "+v.text, "use a protocol number")
}
