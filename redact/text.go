package redact

import (
	"regexp"
	"strings"
)

// Secrets. Each rule keeps what says what the value was (the key, the
// scheme) and replaces the value itself.
var (
	// Authorization: Bearer abc, Proxy-Authorization: Basic …: everything
	// after the colon is credentials, to the end of the line.
	authHeader = regexp.MustCompile(`(?i)((?:proxy-)?authorization\s*[:=]\s*)[^\r\n]*`)
	// scheme://user:pass@host: the user info.
	urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@"'<>]*@`)
	// ?a=b&c=d: the whole query string (tokens, session ids, e-mails).
	urlQuery = regexp.MustCompile(`\?[^\s#"'<>?]*=[^\s#"'<>]*`)
	// password=hunter2, api_key: abc, --token=abc, "secret": "abc".
	keyValue = regexp.MustCompile(`(?i)([a-z0-9_.-]*(?:passw(?:or)?d|pass|pwd|token|secret|key|auth|credential|cookie)[a-z0-9_.-]*"?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,"']+)`)
	// --password hunter2: a secret-named flag and the next word.
	flagValue = regexp.MustCompile(`(?i)((?:^|\s)--?[a-z0-9_.-]*(?:passw(?:or)?d|pass|pwd|token|secret|key|auth|credential|cookie)[a-z0-9_.-]*\s+)([^\s-]\S*)`)
	// A command-line element that is a secret-named flag with no value:
	// the next element is its value.
	secretFlag = regexp.MustCompile(`(?i)^--?[a-z0-9_.-]*(?:passw(?:or)?d|pass|pwd|token|secret|key|auth|credential|cookie)[a-z0-9_.-]*$`)

	homeDir = regexp.MustCompile(`/home/([A-Za-z0-9._-]+)`)
	email   = regexp.MustCompile(`([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)`)
	// A DNS name of three labels or more ending in letters: db-7.prod.example.com.
	fqdn = regexp.MustCompile(`[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){2,}`)
	// Pseudonyms this package made; never learned as names.
	pseudonym = regexp.MustCompile(`^(?:host|user)-[0-9]+$`)
)

// fileExt are last labels that make a dotted word a file name, not a host.
var fileExt = map[string]bool{
	"conf": true, "cfg": true, "log": true, "json": true, "txt": true, "gz": true, "xz": true, "zst": true,
	"py": true, "go": true, "sh": true, "service": true, "socket": true, "timer": true, "mount": true,
	"slice": true, "scope": true, "target": true, "yaml": true, "yml": true, "pem": true, "crt": true,
	"key": true, "html": true, "js": true, "css": true, "md": true, "stk": true, "pcap": true, "so": true,
	"tmp": true, "bak": true, "old": true, "rules": true, "d": true, "lock": true, "pid": true, "sock": true,
}

// text redacts one string. Order matters: secrets first, so a password that
// happens to look like an address is blanked rather than mapped; names last,
// so a pseudonym is never taken for a name.
func (r *Redactor) text(s string) string {
	if s == "" {
		return s
	}
	s = redactSecrets(s)
	s = r.addresses(s)
	s = r.emails(s)
	s = r.replaceNames(s)
	s = r.hostnames(s)
	return s
}

func redactSecrets(s string) string {
	if !strings.ContainsAny(s, "=:?@ ") {
		return s
	}
	s = authHeader.ReplaceAllString(s, "${1}"+Redacted)
	s = urlUserinfo.ReplaceAllString(s, "${1}"+Redacted+"@")
	s = urlQuery.ReplaceAllString(s, "?"+Redacted)
	s = keyValue.ReplaceAllStringFunc(s, func(m string) string {
		sub := keyValue.FindStringSubmatch(m)
		if sub[2] == Redacted {
			return m
		}
		return sub[1] + Redacted
	})
	s = flagValue.ReplaceAllString(s, "${1}"+Redacted)
	return s
}

// argv blanks the element after a secret-named flag in a list of strings
// (a command line): ["--password", "hunter2"].
func (r *Redactor) argv(list []any) {
	for i := 0; i+1 < len(list); i++ {
		if s, ok := list[i].(string); ok && secretFlag.MatchString(s) {
			if v, ok := list[i+1].(string); ok {
				if v != Redacted {
					r.changed = true
				}
				list[i+1] = Redacted
				i++
			}
		}
	}
}

// learnText learns names a string gives away: /home/NAME and e-mail local parts.
func (r *Redactor) learnText(s string) {
	if strings.Contains(s, "/home/") {
		for _, m := range homeDir.FindAllStringSubmatch(s, -1) {
			r.learnUserLocked(m[1])
		}
	}
}

func (r *Redactor) learnHostLocked(name string) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if !learnable(name) {
		return
	}
	r.declare(name, r.addName(r.hosts, name, "host-"))
	// db-7.prod.example.com also goes by db-7.
	if short, _, ok := strings.Cut(name, "."); ok && learnable(short) {
		r.declare(short, r.addName(r.hosts, short, "host-"))
	}
}

func (r *Redactor) learnUserLocked(name string) {
	name = strings.TrimSpace(name)
	if !learnable(name) || name == "root" || name == "nobody" {
		return
	}
	r.declare(name, r.addName(r.users, name, "user-"))
}

// declare adds a learned name to those searched for in every string. The
// first maxNames stay: the header's, this host's and its users' come first,
// so a file full of names cannot push them out.
func (r *Redactor) declare(name, pseudonym string) {
	l := lowerASCII(name)
	if r.declared[l] || len(r.declared) >= maxNames {
		return
	}
	r.declared[l] = true
	r.scan = append(r.scan, nameRule{l, pseudonym})
	r.names = nil
}

func learnable(name string) bool {
	if len(name) < 2 || len(name) > 253 || pseudonym.MatchString(name) || name == "localhost" || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, " \t\r\n/")
}

func (r *Redactor) addName(m map[string]string, name, prefix string) string {
	l := lowerASCII(name)
	if p, ok := m[l]; ok {
		return p
	}
	var p string
	if len(m) < maxMapped {
		p = prefix + itoa(len(m)+1)
		m[l] = p
	} else {
		p = prefix + "h" + itoa(int(r.hash(l)&0xffffff))
	}
	return p
}

// replaceNames swaps known host and user names for their pseudonyms,
// case-insensitively, where they stand as whole words (a neighbour that is
// a letter or digit means a longer word: "alice" is not in "malice").
func (r *Redactor) replaceNames(s string) string {
	if len(r.names) == 0 {
		return s
	}
	low := lowerASCII(s)
	type hit struct {
		at, end int
		p       string
	}
	var hits []hit
	for _, n := range r.names {
		for from := 0; ; {
			i := strings.Index(low[from:], n.lower)
			if i < 0 {
				break
			}
			at, end := from+i, from+i+len(n.lower)
			from = at + 1
			if (at > 0 && isAlnum(low[at-1])) || (end < len(low) && isAlnum(low[end])) {
				continue
			}
			overlap := false
			for _, h := range hits {
				if at < h.end && end > h.at {
					overlap = true
					break
				}
			}
			if !overlap {
				hits = append(hits, hit{at, end, n.pseudonym})
			}
		}
	}
	if len(hits) == 0 {
		return s
	}
	// Few hits: an insertion sort keeps this allocation-free.
	for i := 1; i < len(hits); i++ {
		for j := i; j > 0 && hits[j].at < hits[j-1].at; j-- {
			hits[j], hits[j-1] = hits[j-1], hits[j]
		}
	}
	var b strings.Builder
	last := 0
	for _, h := range hits {
		b.WriteString(s[last:h.at])
		b.WriteString(h.p)
		last = h.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// emails become user-N@host-M.
func (r *Redactor) emails(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return email.ReplaceAllStringFunc(s, func(m string) string {
		local, domain, _ := strings.Cut(m, "@")
		if local == Redacted || pseudonym.MatchString(local) {
			return m
		}
		u := r.addName(r.users, local, "user-")
		h := r.addName(r.hosts, domain, "host-")
		return u + "@" + h
	})
}

// hostnames replaces DNS names of three or more labels that are not file
// names: db-7.prod.example.com → host-2.
func (r *Redactor) hostnames(s string) string {
	if strings.Count(s, ".") < 2 {
		return s
	}
	idx := fqdn.FindAllStringIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		at, end := m[0], m[1]
		name := s[at:end]
		if !r.looksLikeHost(s, at, end, name) {
			continue
		}
		b.WriteString(s[last:at])
		b.WriteString(r.addName(r.hosts, name, "host-"))
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func (r *Redactor) looksLikeHost(s string, at, end int, name string) bool {
	if at > 0 {
		c := s[at-1]
		if c == '_' || c == '.' || c == '-' {
			return false
		}
		// A path component (/usr/lib/x.y.z) is a file, unless it follows
		// a URL scheme's //.
		if c == '/' && !(at >= 2 && s[at-2] == '/') {
			return false
		}
	}
	if end < len(s) && (s[end] == '_' || s[end] == '-') {
		return false
	}
	tld := name[strings.LastIndexByte(name, '.')+1:]
	if len(tld) < 2 || fileExt[lowerASCII(tld)] {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !isLetter(tld[i]) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool  { return isLetter(c) || isDigit(c) }
func isHex(c byte) bool    { return isDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f') }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
