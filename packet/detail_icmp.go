package packet

import (
	"fmt"
	"strings"
)

var icmp4Types = map[uint8]string{0: "echo reply", 3: "destination unreachable", 4: "source quench", 5: "redirect",
	8: "echo request", 9: "router advertisement", 10: "router solicitation", 11: "time exceeded",
	12: "parameter problem", 13: "timestamp", 14: "timestamp reply"}

var icmp4Unreachable = [...]string{"net unreachable", "host unreachable", "protocol unreachable", "port unreachable",
	"fragmentation needed", "source route failed", "net unknown", "host unknown", "source host isolated",
	"net prohibited", "host prohibited", "net unreachable for tos", "host unreachable for tos",
	"administratively prohibited", "host precedence violation", "precedence cutoff"}

func icmpCode(t, c uint8) string {
	switch {
	case t == 3 && int(c) < len(icmp4Unreachable):
		return fmt.Sprintf("%s (%d)", icmp4Unreachable[c], c)
	case t == 11 && c == 0:
		return "ttl exceeded in transit (0)"
	case t == 11 && c == 1:
		return "fragment reassembly time exceeded (1)"
	case t == 5 && c < 4:
		return fmt.Sprintf("%s (%d)", [...]string{"for the net", "for the host", "for tos and net", "for tos and host"}[c], c)
	}
	return fmt.Sprint(c)
}

func named(names map[uint8]string, v uint8) string {
	if n, ok := names[v]; ok {
		return fmt.Sprintf("%s (%d)", n, v)
	}
	return fmt.Sprint(v)
}

// icmp4 decodes an ICMP message; an error's quoted datagram (the IPv4
// header and first bytes of the packet that caused it) follows as quoted
// layers.
func (d *detail) icmp4(off, end int) {
	l, ok := d.need("ICMP", off, end, 8)
	if !ok {
		return
	}
	b := d.data[off:end]
	t, c := b[0], b[1]
	l.f("type", named(icmp4Types, t))
	l.f("code", icmpCode(t, c))
	l.f("checksum", fmt.Sprintf("0x%04x", be16(b[2:])))
	switch t {
	case 0, 8, 13, 14:
		l.f("id", fmt.Sprint(be16(b[4:])))
		l.f("seq", fmt.Sprint(be16(b[6:])))
	case 3:
		if c == 4 {
			l.f("next-hop mtu", fmt.Sprint(be16(b[6:])))
		}
	case 5:
		l.f("gateway", addr4(b[4:]))
	case 12:
		l.f("pointer", fmt.Sprint(b[4]))
	}
	switch t {
	case 3, 4, 5, 11, 12:
		d.quote(off+8, end, 4)
	default:
		d.payload(off+8, end, "")
	}
}

// quote decodes the datagram an ICMP error quotes, once: an error about
// an error's quote is not followed further.
func (d *detail) quote(off, end, ipVer int) {
	if d.quoted {
		d.payload(off, end, "")
		return
	}
	d.quoted = true
	if ipVer == 4 {
		d.ipv4(off, end)
	} else {
		d.ipv6(off, end)
	}
	d.quoted = false
}

var icmp6Types = map[uint8]string{1: "destination unreachable", 2: "packet too big", 3: "time exceeded",
	4: "parameter problem", 128: "echo request", 129: "echo reply", 130: "multicast listener query",
	131: "multicast listener report", 132: "multicast listener done", 133: "router solicitation",
	134: "router advertisement", 135: "neighbor solicitation", 136: "neighbor advertisement", 137: "redirect",
	143: "multicast listener report v2"}

var icmp6Unreachable = [...]string{"no route", "administratively prohibited", "beyond scope of source address",
	"address unreachable", "port unreachable", "source address failed policy", "reject route"}

func (d *detail) icmp6(off, end int) {
	l, ok := d.need("ICMPv6", off, end, 8)
	if !ok {
		return
	}
	b := d.data[off:end]
	t, c := b[0], b[1]
	l.f("type", named(icmp6Types, t))
	code := fmt.Sprint(c)
	if t == 1 && int(c) < len(icmp6Unreachable) {
		code = fmt.Sprintf("%s (%d)", icmp6Unreachable[c], c)
	}
	l.f("code", code)
	l.f("checksum", fmt.Sprintf("0x%04x", be16(b[2:])))
	body := 8
	switch t {
	case 2:
		l.f("mtu", fmt.Sprint(be32(b[4:])))
	case 4:
		l.f("pointer", fmt.Sprint(be32(b[4:])))
	case 128, 129:
		l.f("id", fmt.Sprint(be16(b[4:])))
		l.f("seq", fmt.Sprint(be16(b[6:])))
	case 134:
		l.f("hop limit", fmt.Sprint(b[4]))
		l.f("flags", fmt.Sprintf("0x%02x", b[5]))
		l.f("router lifetime", fmt.Sprintf("%ds", be16(b[6:])))
		body = 16
	case 135, 136, 137:
		if len(b) >= 24 {
			l.f("target", addr16(b[8:]))
			body = 24
		}
		if t == 136 {
			l.f("flags", fmt.Sprintf("router %v, solicited %v, override %v", b[4]&0x80 != 0, b[4]&0x40 != 0, b[4]&0x20 != 0))
		}
		if t == 137 && len(b) >= 40 {
			l.f("destination", addr16(b[24:]))
			body = 40
		}
	}
	switch {
	case t >= 1 && t <= 4:
		d.quote(off+8, end, 6)
	case t >= 133 && t <= 137 && len(b) >= body:
		l.Len = body
		if opts := ndpOptions(b[body:]); opts != "" {
			l.f("options", opts)
			l.Len = len(b)
			return
		}
		d.payload(off+body, end, "")
	default:
		d.payload(off+8, end, "")
	}
}

// ndpOptions lists neighbor discovery options: link-layer addresses, the
// prefix, the MTU.
func ndpOptions(b []byte) string {
	var out []string
	for len(b) >= 2 && len(out) < 16 {
		n := int(b[1]) * 8
		if n == 0 || n > len(b) {
			out = append(out, "bad option length")
			break
		}
		v := b[2:n]
		switch {
		case (b[0] == 1 || b[0] == 2) && len(v) >= 6:
			which := "source"
			if b[0] == 2 {
				which = "target"
			}
			out = append(out, which+" link-layer "+mac(v[:6]))
		case b[0] == 3 && len(v) >= 30:
			out = append(out, fmt.Sprintf("prefix %s/%d", addr16(v[14:]), v[0]))
		case b[0] == 5 && len(v) >= 6:
			out = append(out, fmt.Sprintf("mtu %d", be32(v[2:])))
		default:
			out = append(out, fmt.Sprintf("option %d (%d bytes)", b[0], n))
		}
		b = b[n:]
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, ", ")
}

// vrrp decodes a VRRP advertisement: version 2 (RFC 3768, IPv4,
// seconds) or 3 (RFC 5798, IPv4 or IPv6, centiseconds).
func (d *detail) vrrp(off, end, ipVer int) {
	l, ok := d.need("VRRP", off, end, 8)
	if !ok {
		return
	}
	b := d.data[off:end]
	ver, typ := b[0]>>4, b[0]&15
	l.f("version", fmt.Sprint(ver))
	if typ == 1 {
		l.f("type", "advertisement (1)")
	} else {
		l.f("type", fmt.Sprint(typ))
	}
	l.f("virtual router id", fmt.Sprint(b[1]))
	prio := fmt.Sprint(b[2])
	switch b[2] {
	case 255:
		prio += " (address owner)"
	case 0:
		prio += " (master stepping down)"
	}
	l.f("priority", prio)
	n := int(b[3])
	l.f("addresses", fmt.Sprint(n))
	switch ver {
	case 2:
		auth := map[uint8]string{0: "none", 1: "simple text password", 2: "IP authentication header"}[b[4]]
		if auth == "" {
			auth = fmt.Sprint(b[4])
		}
		l.f("auth type", auth)
		l.f("advertisement interval", fmt.Sprintf("%ds", b[5]))
	case 3:
		ci := be16(b[4:]) & 0xfff
		l.f("max advertisement interval", fmt.Sprintf("%d.%02ds", ci/100, ci%100))
	default:
		l.Note = fmt.Sprintf("unknown VRRP version %d", ver)
		return
	}
	l.f("checksum", fmt.Sprintf("0x%04x", be16(b[6:])))
	size := 4
	if ver == 3 && ipVer == 6 {
		size = 16
	}
	at := 8
	for i := 0; i < n; i++ {
		if at+size > len(b) {
			l.Note = fmt.Sprintf("truncated: %d of %d addresses", i, n)
			l.Len = at
			return
		}
		if size == 4 {
			l.f("virtual address", addr4(b[at:]))
		} else {
			l.f("virtual address", addr16(b[at:]))
		}
		at += size
	}
	if ver == 2 && at+8 <= len(b) && b[4] == 1 {
		// The "simple text password" is eight bytes that are sent in clear.
		l.f("auth data", fmt.Sprintf("%x", b[at:at+8]))
		at += 8
	}
	l.Len = at
	d.payload(off+at, end, "")
}
