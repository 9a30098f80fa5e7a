package filter

import (
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// qual is a primitive's qualifiers: proto (ip, tcp, ...), dir (src, dst,
// "or" for "src or dst", "and" for "src and dst") and type (host, net, port,
// portrange, proto). libpcap reuses the last primitive's qualifiers for a bare
// value after and/or/not, as in "port 53 or 123" or "host a and not b".
type qual struct{ proto, dir, typ string }

type parser struct {
	toks  []token
	close map[int]int // index of each '(' token -> its matching ')' (or EOF)
	i     int
	l     link
	last  *qual // qualifiers a bare value inherits; nil when there are none
}

var (
	protoQuals = map[string]bool{"ether": true, "ip": true, "ip6": true, "arp": true, "rarp": true,
		"tcp": true, "udp": true, "sctp": true, "icmp": true, "icmp6": true, "igmp": true, "vrrp": true}
	typeQuals = map[string]bool{"host": true, "net": true, "port": true, "portrange": true, "proto": true}
	// libpcap words this compiler knows it does not handle.
	unsupportedWords = map[string]string{
		"vlan": "", "mpls": "", "pppoed": "", "pppoes": "", "geneve": "",
		"gateway": "needs name resolution", "inbound": "", "outbound": "", "ifname": "", "on": "",
		"rnr": "", "rulenum": "", "reason": "", "rset": "", "ruleset": "", "srnr": "", "subrulenum": "",
		"action": "", "type": "", "subtype": "", "dir": "", "llc": "", "atalk": "", "aarp": "",
		"decnet": "", "iso": "", "esis": "", "isis": "", "clnp": "", "stp": "", "ipx": "", "netbeui": "",
		"lat": "", "sca": "", "moprc": "", "mopdl": "", "fddi": "", "tr": "", "wlan": "", "link": "",
		"ppp": "", "slip": "", "radio": "", "carp": "", "pim": "", "igrp": "", "ah": "", "esp": "",
		"ra": "", "ta": "", "addr1": "", "addr2": "", "addr3": "", "addr4": "", "protochain": "",
		"iso8473": "", "l1": "", "l2": "", "iih": "", "lsp": "", "snp": "", "csnp": "", "psnp": "",
		"hsls": "", "lane": "", "oamf4": "", "oamf4ec": "", "oamf4sc": "", "oam": "", "metac": "",
		"bcc": "", "sc": "", "ilmic": "", "connectmsg": "", "metaconnect": "", "vpi": "", "vci": "",
		"fisu": "", "lssu": "", "msu": "", "sio": "", "opc": "", "dpc": "", "sls": "", "hfisu": "",
		"hlssu": "", "hmsu": "", "hsio": "", "hopc": "", "hdpc": "",
	}
)

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}
func (p *parser) peekOp(op string) bool { t := p.peek(); return t.kind == tOp && t.text == op }
func (p *parser) peekWord(w string) bool {
	t := p.peek()
	return t.kind == tWord && t.text == w
}
func (p *parser) expectOp(op string) error {
	t := p.next()
	if t.kind != tOp || t.text != op {
		return &SyntaxError{Pos: t.pos, Msg: "expected '" + op + "', got " + describe(t)}
	}
	return nil
}

func describe(t token) string {
	if t.kind == tEOF {
		return "end of expression"
	}
	return "'" + t.text + "'"
}

func (p *parser) isAnd() bool { return p.peekWord("and") || p.peekOp("&&") }
func (p *parser) isOr() bool  { return p.peekWord("or") || p.peekOp("||") }
func (p *parser) isNot() bool { return p.peekWord("not") || p.peekOp("!") }

// parseExpr: "and" and "or" have equal precedence and associate left to
// right, as in libpcap ("a or b and c" is "(a or b) and c").
func (p *parser) parseExpr() (*pred, error) {
	left, err := p.parseTerm()
	if err != nil {
		return nil, err
	}
	for p.isAnd() || p.isOr() {
		isAnd := p.isAnd()
		p.next()
		right, err := p.parseTerm()
		if err != nil {
			return nil, err
		}
		if isAnd {
			left = and(left, right)
		} else {
			left = or(left, right)
		}
	}
	return left, nil
}

func (p *parser) parseTerm() (*pred, error) {
	if p.isNot() {
		p.next()
		x, err := p.parseTerm()
		if err != nil {
			return nil, err
		}
		return not(x), nil
	}
	t := p.peek()
	if t.kind == tEOF {
		return nil, &SyntaxError{Pos: t.pos, Msg: "unexpected end of expression"}
	}
	if p.mustBeRelation() {
		r, err := p.parseRelation()
		p.last = nil
		return r, err
	}
	if p.parenIsArith() {
		r, err := p.parseRelation()
		p.last = nil
		return r, err
	}
	if _, isNum := parseNumber(t.text); isNum && t.kind == tWord {
		// A number is a comparison ("1 + 2 = 3") or, after and/or, a bare
		// value ("port 53 or 80"). Arithmetic never backtracks, so trying
		// the comparison first costs linear time.
		start := p.i
		r, rerr := p.parseRelation()
		if rerr == nil {
			p.last = nil
			return r, nil
		}
		if _, ok := rerr.(*UnsupportedError); ok {
			return nil, rerr
		}
		relEnd := p.i
		p.i = start
		x, err := p.parseNonRelation()
		if err != nil && relEnd-start > 1 && errPos(rerr) > errPos(err) {
			return nil, rerr // the comparison got further: its error is the useful one
		}
		return x, err
	}
	return p.parseNonRelation()
}

// mustBeRelation: a packet field, len, a named constant or a minus sign can
// only start an arithmetic comparison.
func (p *parser) mustBeRelation() bool {
	t, n := p.peek(), p.toks[p.i+1]
	if t.kind == tOp {
		return t.text == "-"
	}
	if _, ok := arithConstants[t.text]; ok || t.text == "len" {
		return true
	}
	return t.kind == tWord && n.kind == tOp && n.text == "["
}

// parenIsArith decides what a '(' opens without backtracking (which would
// be exponential in the nesting depth): "(tcp[13] & 4) != 0" and
// "(ip[9]) = 6" are arithmetic because an operator follows the matching
// ')'; "(tcp or udp)" and "(ip[9] = 6)" are boolean groups.
func (p *parser) parenIsArith() bool {
	if !p.peekOp("(") {
		return false
	}
	j := p.close[p.i]
	n := p.toks[min(j+1, len(p.toks)-1)]
	_, rel := relops[n.text]
	_, alu := aluOps[n.text]
	return p.toks[j].kind == tOp && n.kind == tOp && (rel || alu)
}

// matchParens pairs parentheses once, so deciding what each '(' opens is
// constant time; an unclosed '(' maps to the EOF token.
func matchParens(toks []token) map[int]int {
	m := map[int]int{}
	var open []int
	for i, t := range toks {
		switch {
		case t.kind == tOp && t.text == "(":
			open = append(open, i)
		case t.kind == tOp && t.text == ")" && len(open) > 0:
			m[open[len(open)-1]] = i
			open = open[:len(open)-1]
		}
	}
	for _, i := range open {
		m[i] = len(toks) - 1
	}
	return m
}

func errPos(err error) int {
	if se, ok := err.(*SyntaxError); ok {
		return se.Pos
	}
	return -1
}

func (p *parser) parseRelation() (*pred, error) {
	left, err := p.parseArith(0)
	if err != nil {
		return nil, err
	}
	t := p.next()
	if _, ok := relops[t.text]; t.kind != tOp || !ok {
		return nil, &SyntaxError{Pos: t.pos, Msg: "expected a comparison (>, <, >=, <=, =, !=), got " + describe(t)}
	}
	right, err := p.parseArith(0)
	if err != nil {
		return nil, err
	}
	return p.l.relation(left, t.text, right)
}

// parseNonRelation reads a parenthesized expression, a length test, a
// cast (multicast, broadcast) or a primitive.
func (p *parser) parseNonRelation() (*pred, error) {
	t := p.peek()
	if t.kind == tOp && t.text == "(" {
		return p.parseParens()
	}
	if t.kind != tWord {
		return nil, &SyntaxError{Pos: t.pos, Msg: "unexpected " + describe(t)}
	}
	if why, ok := unsupportedWords[t.text]; ok {
		return nil, unsupported(t.text, why)
	}
	switch t.text {
	case "less", "greater":
		return p.parseLength(t)
	case "multicast", "broadcast":
		p.next()
		p.last = nil
		return p.castPred("", t.text)
	}
	return p.parsePrimitive(t)
}

// parseParens reads "(" expression ")".
func (p *parser) parseParens() (*pred, error) {
	p.next()
	x, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	p.last = nil // libpcap: "(port 1) and 2" is an error
	return x, nil
}

// parseLength reads "less N" or "greater N" (t), the packet's length as
// "len <= N" or "len >= N".
func (p *parser) parseLength(t token) (*pred, error) {
	p.next()
	n := p.next()
	k, ok := parseNumber(n.text)
	if n.kind != tWord || !ok {
		return nil, &SyntaxError{Pos: n.pos, Msg: t.text + " needs a number, got " + describe(n)}
	}
	p.last = nil
	ld := bpf.LoadExtension{Num: bpf.ExtLen}
	if t.text == "less" {
		return not(test(opJGT, k, ld)), nil
	}
	return test(opJGE, k, ld), nil
}

// parsePrimitive reads qualifiers and a value, from t on; a value without
// qualifiers takes the previous primitive's ("port 1 or 2").
func (p *parser) parsePrimitive(t token) (*pred, error) {
	q := qual{}
	hasQual := false
	if protoQuals[t.text] {
		p.next()
		q.proto, hasQual = t.text, true
		if !p.startsQual() {
			return p.parseProtoAlone(q.proto)
		}
	}
	if d, ok := p.parseDir(); ok {
		q.dir, hasQual = d, true
	}
	if n := p.peek(); n.kind == tWord && typeQuals[n.text] {
		p.next()
		q.typ, hasQual = n.text, true
	} else if n.kind == tWord && (n.text == "gateway" || n.text == "protochain") {
		return nil, unsupported(joinWords(q.proto, n.text), unsupportedWords[n.text])
	}
	if !hasQual {
		if p.last == nil {
			return nil, &SyntaxError{Pos: t.pos, Msg: "'" + t.text + "' needs a qualifier such as host, net or port"}
		}
		q = *p.last
	}
	v := p.next()
	if v.kind != tWord {
		return nil, &SyntaxError{Pos: v.pos, Msg: "expected a value, got " + describe(v)}
	}
	pr, err := p.primitive(q, v)
	if err != nil {
		return nil, err
	}
	p.last = &q
	return pr, nil
}

// parseProtoAlone reads what follows a protocol qualifier that no other
// qualifier follows: "ether multicast", "ip broadcast", or the protocol
// on its own ("tcp", "ip6").
func (p *parser) parseProtoAlone(proto string) (*pred, error) {
	p.last = nil
	if n := p.peek(); n.kind == tWord && (n.text == "multicast" || n.text == "broadcast") {
		p.next()
		return p.castPred(proto, n.text)
	}
	if pr, ok := p.l.protoKeyword(proto); ok {
		return pr, nil
	}
	return nil, unsupported(proto, "a link-layer qualifier needs host/net/proto, which are not supported")
}

func (p *parser) startsQual() bool {
	t := p.peek()
	return t.kind == tWord && (t.text == "src" || t.text == "dst" || typeQuals[t.text] ||
		t.text == "gateway" || t.text == "protochain")
}

// parseDir reads src, dst, "src or dst", "src and dst" (either order).
func (p *parser) parseDir() (string, bool) {
	t := p.peek()
	if t.kind != tWord || (t.text != "src" && t.text != "dst") {
		return "", false
	}
	p.next()
	other := map[string]string{"src": "dst", "dst": "src"}[t.text]
	if (p.isAnd() || p.isOr()) && p.toks[p.i+1].kind == tWord && p.toks[p.i+1].text == other {
		d := "or"
		if p.isAnd() {
			d = "and"
		}
		p.i += 2
		return d, true
	}
	return t.text, true
}

func (p *parser) castPred(proto, what string) (*pred, error) {
	if what == "multicast" {
		return p.l.multicast(proto)
	}
	return p.l.broadcast(proto)
}

// parseNumber reads a libpcap number: decimal, 0x hex or 0-prefixed octal.
func parseNumber(s string) (uint32, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' || len(s) > 1 && strings.ContainsRune("bBoO", rune(s[1])) {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil || strings.ContainsAny(s, "_") {
		return 0, false
	}
	return uint32(n), true
}
