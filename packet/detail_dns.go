package packet

import (
	"fmt"
	"strings"
)

var dnsTypes = map[uint16]string{1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
	28: "AAAA", 33: "SRV", 35: "NAPTR", 39: "DNAME", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY",
	50: "NSEC3", 52: "TLSA", 64: "SVCB", 65: "HTTPS", 99: "SPF", 251: "IXFR", 252: "AXFR", 255: "ANY", 257: "CAA"}

var dnsRcodes = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
	"YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}

var dnsOpcodes = [...]string{"QUERY", "IQUERY", "STATUS", "3", "NOTIFY", "UPDATE"}

func dnsType(t uint16) string {
	if n, ok := dnsTypes[t]; ok {
		return n
	}
	return fmt.Sprintf("TYPE%d", t)
}

func dnsClass(c uint16) string {
	switch c &^ 0x8000 { // mDNS uses the top bit (unicast response, cache flush)
	case 1:
		return "IN"
	case 3:
		return "CH"
	case 255:
		return "ANY"
	}
	return fmt.Sprintf("CLASS%d", c)
}

// dns decodes a DNS message in [off, end): its header, questions and
// records, names as dig prints them.
func (d *detail) dns(off, end int) {
	l, ok := d.need("DNS", off, end, 12)
	if !ok {
		return
	}
	m := d.data[off:end]
	l.Len = len(m)
	fl := be16(m[2:])
	kind := "query"
	if fl&0x8000 != 0 {
		kind = "response"
	}
	l.f("id", fmt.Sprintf("0x%04x", be16(m)))
	op := int(fl>>11) & 15
	opText := fmt.Sprint(op)
	if op < len(dnsOpcodes) {
		opText = dnsOpcodes[op]
	}
	l.f(kind, opText)
	var flags []string
	for _, f := range []struct {
		bit  uint16
		name string
	}{{0x0400, "aa"}, {0x0200, "tc"}, {0x0100, "rd"}, {0x0080, "ra"}, {0x0020, "ad"}, {0x0010, "cd"}} {
		if fl&f.bit != 0 {
			flags = append(flags, f.name)
		}
	}
	if len(flags) > 0 {
		l.f("flags", strings.Join(flags, " "))
	}
	if rc := int(fl & 15); fl&0x8000 != 0 {
		if rc < len(dnsRcodes) {
			l.f("status", dnsRcodes[rc])
		} else {
			l.f("status", fmt.Sprint(rc))
		}
	}
	counts := [4]int{int(be16(m[4:])), int(be16(m[6:])), int(be16(m[8:])), int(be16(m[10:]))}
	l.f("counts", fmt.Sprintf("%d question, %d answer, %d authority, %d additional", counts[0], counts[1], counts[2], counts[3]))
	at, listed := 12, 0
	for sec, name := range [...]string{"question", "answer", "authority", "additional"} {
		for i := range counts[sec] {
			if listed >= maxDNSRecords {
				left := counts[sec] - i
				for _, c := range counts[sec+1:] {
					left += c
				}
				l.f("more", fmt.Sprintf("%d records not listed", left))
				return
			}
			var text string
			var err error
			if sec == 0 {
				text, at, err = dnsQuestion(m, at)
			} else {
				text, at, err = dnsRecord(m, at)
			}
			if err != nil {
				l.Note = fmt.Sprintf("%s %d: %v", name, i+1, err)
				return
			}
			l.f(name, text)
			listed++
		}
	}
	if at < len(m) {
		l.Note = fmt.Sprintf("%d bytes after the last record", len(m)-at)
	}
}

func dnsQuestion(m []byte, at int) (string, int, error) {
	name, at, err := dnsName(m, at)
	if err != nil {
		return "", at, err
	}
	if at+4 > len(m) {
		return "", at, fmt.Errorf("truncated")
	}
	return fmt.Sprintf("%s %s %s", name, dnsClass(be16(m[at+2:])), dnsType(be16(m[at:]))), at + 4, nil
}

func dnsRecord(m []byte, at int) (string, int, error) {
	name, at, err := dnsName(m, at)
	if err != nil {
		return "", at, err
	}
	if at+10 > len(m) {
		return "", at, fmt.Errorf("truncated")
	}
	typ, class, ttl, n := be16(m[at:]), be16(m[at+2:]), be32(m[at+4:]), int(be16(m[at+8:]))
	at += 10
	if at+n > len(m) {
		return "", at, fmt.Errorf("data truncated: %d of %d bytes", len(m)-at, n)
	}
	rd := m[at : at+n]
	if typ == 41 { // EDNS OPT: the class is the UDP size, the TTL flags
		return fmt.Sprintf("EDNS udp %d, version %d, do %v, %d bytes of options", class, ttl>>16&0xff, ttl&0x8000 != 0, n), at + n, nil
	}
	data, err := dnsData(m, at, typ, rd)
	if err != nil {
		return "", at, err
	}
	return fmt.Sprintf("%s %d %s %s %s", name, ttl, dnsClass(class), dnsType(typ), data), at + n, nil
}

// dnsData is a record's data as dig shows it, for the common types.
func dnsData(m []byte, at int, typ uint16, rd []byte) (string, error) {
	nameAt := func(i int) (string, error) {
		s, _, err := dnsName(m[:at+len(rd)], at+i)
		return s, err
	}
	switch {
	case typ == 1 && len(rd) == 4:
		return addr4(rd), nil
	case typ == 28 && len(rd) == 16:
		return addr16(rd), nil
	case typ == 2 || typ == 5 || typ == 12 || typ == 39:
		return nameAt(0)
	case typ == 15 && len(rd) >= 3:
		s, err := nameAt(2)
		return fmt.Sprintf("%d %s", be16(rd), s), err
	case typ == 33 && len(rd) >= 7:
		s, err := nameAt(6)
		return fmt.Sprintf("%d %d %d %s", be16(rd), be16(rd[2:]), be16(rd[4:]), s), err
	case typ == 6:
		mname, next, err := dnsName(m[:at+len(rd)], at)
		if err != nil {
			return "", err
		}
		rname, next, err := dnsName(m[:at+len(rd)], next)
		if err != nil {
			return "", err
		}
		if next+20 > at+len(rd) {
			return "", fmt.Errorf("SOA truncated")
		}
		return fmt.Sprintf("%s %s %d", mname, rname, be32(m[next:])), nil
	case typ == 16:
		var parts []string
		for i := 0; i < len(rd); {
			n := int(rd[i])
			if i+1+n > len(rd) {
				return "", fmt.Errorf("TXT string truncated")
			}
			parts = append(parts, `"`+dnsEscape(rd[i+1:i+1+n], `"`, true)+`"`)
			i += 1 + n
		}
		return strings.Join(parts, " "), nil
	}
	return fmt.Sprintf("\\# %d %x", len(rd), rd[:min(len(rd), 32)]), nil
}

// dnsName reads a possibly compressed name at at; next is where the name
// ends in the message (after its first pointer, if any).
func dnsName(m []byte, at int) (name string, next int, err error) {
	var b strings.Builder
	next, jumps := -1, 0
	for {
		if at >= len(m) {
			return "", at, fmt.Errorf("name runs past the message")
		}
		n := int(m[at])
		switch {
		case n == 0:
			if next < 0 {
				next = at + 1
			}
			if b.Len() == 0 {
				return ".", next, nil
			}
			return b.String(), next, nil
		case n&0xc0 == 0xc0:
			if at+1 >= len(m) {
				return "", at, fmt.Errorf("name pointer truncated")
			}
			if jumps++; jumps > maxDNSNameJumps {
				return "", at, fmt.Errorf("name pointers loop")
			}
			if next < 0 {
				next = at + 2
			}
			at = int(be16(m[at:]) & 0x3fff)
		case n&0xc0 != 0:
			return "", at, fmt.Errorf("label type 0x%02x", n&0xc0)
		default:
			if at+1+n > len(m) {
				return "", at, fmt.Errorf("label runs past the message")
			}
			b.WriteString(dnsEscape(m[at+1:at+1+n], ".", false))
			b.WriteByte('.')
			if b.Len() > 1024 {
				return "", at, fmt.Errorf("name too long")
			}
			at += 1 + n
		}
	}
}

// dnsEscape writes label or string bytes as dig does: printable ASCII as
// is (a space only inside a quoted string), special characters
// backslash-escaped, everything else \DDD.
func dnsEscape(b []byte, special string, space bool) string {
	var s strings.Builder
	for _, c := range b {
		switch {
		case c == '\\' || strings.IndexByte(special, c) >= 0:
			s.WriteByte('\\')
			s.WriteByte(c)
		case c == ' ' && space:
			s.WriteByte(c)
		case c < 0x21 || c > 0x7e:
			fmt.Fprintf(&s, "\\%03d", c)
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}
