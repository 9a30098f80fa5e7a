package redact

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"strings"
)

// maxRun bounds an address candidate: the longest IPv6 text with a zone,
// or an iptables MAC= field, is well under it. Longer runs of hex digits
// and colons are not addresses and are skipped whole, which keeps the scan
// linear on a hostile string.
const maxRun = 64

// addresses replaces IPv4, IPv6 and MAC addresses in one left-to-right
// pass, so a pseudonym is never scanned again.
func (r *Redactor) addresses(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if !(isHex(c) || c == ':') || (i > 0 && (isAlnum(s[i-1]) || s[i-1] == '.' || s[i-1] == '_')) {
			i++
			continue
		}
		end := i
		colons := 0
		for end < len(s) && end-i <= maxRun && (isHex(s[end]) || s[end] == ':' || s[end] == '.') {
			if s[end] == ':' {
				colons++
			}
			end++
		}
		if end-i > maxRun {
			for end < len(s) && (isHex(s[end]) || s[end] == ':' || s[end] == '.') {
				end++
			}
			i = end
			continue
		}
		repl, n := "", 0
		if colons >= 2 {
			repl, n = r.colonAddr(s[i:end], s[end:])
		}
		if n == 0 && isDigit(c) {
			repl, n = r.dotted(s[i:])
		}
		if n == 0 {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(repl)
		i += n
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// colonAddr recognises a MAC address (or a run of them, as in iptables'
// MAC=dst:src:type) or an IPv6 address at the start of run. after is the
// text following the run. It returns the replacement and how many bytes
// of run it covers.
func (r *Redactor) colonAddr(run, after string) (string, int) {
	if len(after) > 0 && (isLetter(after[0]) || after[0] == '_') && after[0] != '%' {
		return "", 0
	}
	if groups, ok := macGroups(run); ok && groups >= 6 {
		var b strings.Builder
		g := 0
		for ; g+6 <= groups; g += 6 {
			if g > 0 {
				b.WriteByte(':')
			}
			b.WriteString(r.mac(run[g*3 : g*3+17]))
		}
		if g < groups {
			b.WriteString(run[g*3-1:])
		}
		return b.String(), len(run)
	}
	// A sentence may end the address with '.' or ':'.
	cand := run
	for {
		if a, err := netip.ParseAddr(cand); err == nil && a.Is6() {
			return r.addr(a).String(), len(cand)
		}
		if len(cand) < 3 || (cand[len(cand)-1] != '.' && cand[len(cand)-1] != ':') {
			break
		}
		cand = cand[:len(cand)-1]
	}
	return "", 0
}

// macGroups reports how many two-hex-digit groups run holds if it is
// exactly xx:xx:…:xx.
func macGroups(run string) (int, bool) {
	if (len(run)+1)%3 != 0 {
		return 0, false
	}
	for i := 0; i < len(run); i++ {
		if i%3 == 2 {
			if run[i] != ':' {
				return 0, false
			}
		} else if !isHex(run[i]) {
			return 0, false
		}
	}
	return (len(run) + 1) / 3, true
}

// dotted recognises a dotted-quad IPv4 address at the start of s, leading
// zeros allowed (inet_aton reads 010.0.0.1 too, so it must not slip by).
func (r *Redactor) dotted(s string) (string, int) {
	var oct [4]byte
	i := 0
	for k := 0; k < 4; k++ {
		if k > 0 {
			if i >= len(s) || s[i] != '.' {
				return "", 0
			}
			i++
		}
		v, n := 0, 0
		for i < len(s) && isDigit(s[i]) && n < 4 {
			v = v*10 + int(s[i]-'0')
			i++
			n++
		}
		if n == 0 || n > 3 || v > 255 {
			return "", 0
		}
		oct[k] = byte(v)
	}
	// 1.2.3.4.5 or 1.2.3.4x is something else (an OID, a version).
	if i < len(s) && (isAlnum(s[i]) || (s[i] == '.' && i+1 < len(s) && isDigit(s[i+1]))) {
		return "", 0
	}
	return r.addr(netip.AddrFrom4(oct)).String(), i
}

// addr maps one address to its pseudonym.
func (r *Redactor) addr(a netip.Addr) netip.Addr {
	if a.Is4In6() {
		in := r.addr(a.Unmap()).As4()
		return netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: in[0], 13: in[1], 14: in[2], 15: in[3]})
	}
	zone := a.Zone()
	a = a.WithZone("")
	if keepAddr(a) {
		return a.WithZone(zone)
	}
	m, base := r.v4, ipv4Base
	if a.Is6() {
		m, base = r.v6, ipv6Base
	}
	if p, ok := m[a]; ok {
		return p.WithZone(zone)
	}
	var p netip.Addr
	if len(m) < maxMapped {
		p = offset(base, uint64(len(m)+1))
		m[a] = p
	} else {
		// Past the table: a keyed hash into the upper half of the range
		// (198.19.x.y; 2001:db8:8000::/33), apart from counted ones.
		h := r.hash(a.String())
		if a.Is4() {
			p = offset(base, 1<<16|h&0xffff)
		} else {
			p = offset(base, 1<<63|h>>1)
		}
	}
	return p.WithZone(zone)
}

// keepAddr: addresses that name no host.
func keepAddr(a netip.Addr) bool {
	return a.IsLoopback() || a.IsUnspecified() || a.IsMulticast() ||
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// offset adds n to the low 64 bits of base.
func offset(base netip.Addr, n uint64) netip.Addr {
	if base.Is4() {
		b := base.As4()
		v := binary.BigEndian.Uint32(b[:]) + uint32(n)
		binary.BigEndian.PutUint32(b[:], v)
		return netip.AddrFrom4(b)
	}
	b := base.As16()
	v := binary.BigEndian.Uint64(b[8:]) + n
	binary.BigEndian.PutUint64(b[8:], v)
	return netip.AddrFrom16(b)
}

// mac maps one MAC address; broadcast, zero and multicast ones (01:00:5e:…
// follows from a multicast IP) are kept.
func (r *Redactor) mac(m string) string {
	l := lowerASCII(m)
	first := hexByte(l[0], l[1])
	if l == "ff:ff:ff:ff:ff:ff" || l == "00:00:00:00:00:00" || first&1 == 1 {
		return m
	}
	if p, ok := r.macs[l]; ok {
		return p
	}
	var n uint64
	if len(r.macs) < maxMapped {
		n = uint64(len(r.macs) + 1)
	} else {
		n = 1<<23 | r.hash(l)&0x7fffff
	}
	const digits = "0123456789abcdef"
	b := []byte("02:00:00:00:00:00")
	for k := 0; k < 3; k++ {
		v := byte(n >> (8 * (2 - k)))
		b[9+3*k], b[10+3*k] = digits[v>>4], digits[v&0xf]
	}
	p := string(b)
	if len(r.macs) < maxMapped {
		r.macs[l] = p
	}
	return p
}

func hexByte(a, b byte) byte {
	v := func(c byte) byte {
		if isDigit(c) {
			return c - '0'
		}
		return (c | 0x20) - 'a' + 10
	}
	return v(a)<<4 | v(b)
}

// hash is keyed, so a hashed pseudonym cannot be reversed by trying every
// IPv4 address.
func (r *Redactor) hash(s string) uint64 {
	h := sha256.New()
	h.Write(r.key[:])
	h.Write([]byte(s))
	var sum [32]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}
