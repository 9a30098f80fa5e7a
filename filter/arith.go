package filter

import (
	"golang.org/x/net/bpf"
)

// arith is an arithmetic expression as in "tcp[tcpflags] & tcp-syn != 0".
type arith struct {
	op    string // "k", "len", "load", "neg", or a binary operator
	k     uint32
	l, r  *arith
	proto string // for "load": ether, ip, ip6, tcp, udp, icmp
	size  int    // for "load": 1, 2 or 4 bytes
	pos   int
}

// arithConstants are libpcap's named offsets and values.
var arithConstants = map[string]uint32{
	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
	"tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
	"icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
	"icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
}

// loadableProtos are the protocols whose bytes can be indexed; libpcap has
// more (arp[], vlan-aware ones, icmp6[]), which are rejected.
var loadableProtos = map[string]bool{"ether": true, "ip": true, "ip6": true, "tcp": true, "udp": true, "icmp": true}

// relop maps a comparison to a jump and whether the jump's sense is inverted.
var relops = map[string]struct {
	cond   uint16
	invert bool
}{
	">": {opJGT, false}, ">=": {opJGE, false}, "=": {opJEQ, false}, "==": {opJEQ, false},
	"!=": {opJEQ, true}, "<": {opJGE, true}, "<=": {opJGT, true},
}

var aluOps = map[string]bpf.ALUOp{
	"+": bpf.ALUOpAdd, "-": bpf.ALUOpSub, "*": bpf.ALUOpMul, "/": bpf.ALUOpDiv, "%": bpf.ALUOpMod,
	"&": bpf.ALUOpAnd, "|": bpf.ALUOpOr, "^": bpf.ALUOpXor, "<<": bpf.ALUOpShiftLeft, ">>": bpf.ALUOpShiftRight,
}

// arithLevels is the operator precedence, loosest first, as in libpcap's grammar.
var arithLevels = [][]string{{"|"}, {"^"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "%"}}

func (p *parser) parseArith(level int) (*arith, error) {
	if level == len(arithLevels) {
		return p.parseUnary()
	}
	left, err := p.parseArith(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp || !contains(arithLevels[level], t.text) {
			return left, nil
		}
		// "|" followed by "|" is the "||" operator; the lexer already joined it.
		p.next()
		right, err := p.parseArith(level + 1)
		if err != nil {
			return nil, err
		}
		if (t.text == "/" || t.text == "%") && right.op == "k" && right.k == 0 {
			return nil, &SyntaxError{Pos: t.pos, Msg: "division by zero"}
		}
		if (t.text == "<<" || t.text == ">>") && right.op == "k" && right.k > 31 {
			return nil, &SyntaxError{Pos: t.pos, Msg: "shift by more than 31 bits"}
		}
		left = &arith{op: t.text, l: left, r: right, pos: t.pos}
	}
}

func (p *parser) parseUnary() (*arith, error) {
	t := p.next()
	switch {
	case t.kind == tOp && t.text == "-":
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &arith{op: "neg", l: x, pos: t.pos}, nil
	case t.kind == tOp && t.text == "(":
		x, err := p.parseArith(0)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return x, nil
	case t.kind != tWord:
		return nil, &SyntaxError{Pos: t.pos, Msg: "expected a number or packet field, got " + describe(t)}
	}
	if n, ok := parseNumber(t.text); ok {
		return &arith{op: "k", k: n, pos: t.pos}, nil
	}
	if k, ok := arithConstants[t.text]; ok {
		return &arith{op: "k", k: k, pos: t.pos}, nil
	}
	if t.text == "len" {
		return &arith{op: "len", pos: t.pos}, nil
	}
	if !p.peekOp("[") {
		return nil, &SyntaxError{Pos: t.pos, Msg: "expected a number or packet field, got " + describe(t)}
	}
	if !loadableProtos[t.text] {
		return nil, unsupported(t.text+"[...]", "only ether, ip, ip6, tcp, udp and icmp bytes can be indexed")
	}
	p.next()
	idx, err := p.parseArith(0)
	if err != nil {
		return nil, err
	}
	size := 1
	if p.peekOp(":") {
		p.next()
		st := p.next()
		n, ok := parseNumber(st.text)
		if st.kind != tWord || !ok || (n != 1 && n != 2 && n != 4) {
			return nil, &SyntaxError{Pos: st.pos, Msg: "data size must be 1, 2 or 4"}
		}
		size = int(n)
	}
	if err := p.expectOp("]"); err != nil {
		return nil, err
	}
	return &arith{op: "load", l: idx, proto: t.text, size: size, pos: t.pos}, nil
}

// arithGen emits code that leaves an expression's value in A, collecting the
// protocol checks that libpcap ANDs in front of any comparison that reads a
// header (tcp[13] is only read from unfragmented-or-first IPv4 TCP).
type arithGen struct {
	l      link
	ins    []bpf.Instruction
	guards []*pred
	seen   map[string]bool
}

const scratchSlots = 16

func (g *arithGen) guard(key string, p func() *pred) {
	if g.seen[key] {
		return
	}
	g.seen[key] = true
	g.guards = append(g.guards, p())
}

func (g *arithGen) code(e *arith, depth int) error {
	if depth >= scratchSlots {
		return unsupported("arithmetic nested this deeply", "classic BPF has 16 scratch slots")
	}
	switch e.op {
	case "k":
		g.ins = append(g.ins, bpf.LoadConstant{Dst: bpf.RegA, Val: e.k})
	case "len":
		g.ins = append(g.ins, bpf.LoadExtension{Num: bpf.ExtLen})
	case "neg":
		if err := g.code(e.l, depth); err != nil {
			return err
		}
		// A * (2^32-1) is -A modulo 2^32; x/net/bpf's VM cannot run BPF_NEG.
		g.ins = append(g.ins, bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 0xffffffff})
	case "load":
		return g.load(e, depth)
	default:
		if err := g.code(e.l, depth); err != nil {
			return err
		}
		if e.r.op == "k" {
			g.ins = append(g.ins, bpf.ALUOpConstant{Op: aluOps[e.op], Val: e.r.k})
			return nil
		}
		g.ins = append(g.ins, bpf.StoreScratch{Src: bpf.RegA, N: depth})
		if err := g.code(e.r, depth+1); err != nil {
			return err
		}
		g.ins = append(g.ins, bpf.TAX{}, bpf.LoadScratch{Dst: bpf.RegA, N: depth}, bpf.ALUOpX{Op: aluOps[e.op]})
	}
	return nil
}

func (g *arithGen) load(e *arith, depth int) error {
	l := g.l
	var base uint32
	overIHL := false
	switch e.proto {
	case "ether": // libpcap: bytes from the start of the link-layer header, whatever the link
	case "ip":
		g.guard("ip", func() *pred { return l.ethertype(etherIP) })
		base = l.nl
	case "ip6":
		g.guard("ip6", func() *pred { return l.ethertype(etherIPv6) })
		base = l.nl
	default: // tcp, udp, icmp: IPv4 only, first fragment, after the IP options
		g.guard("ip", func() *pred { return l.ethertype(etherIP) })
		g.guard(e.proto, func() *pred { p, _ := l.protoKeyword(e.proto); return p })
		g.guard("nofrag", l.notFragment4)
		base, overIHL = l.nl, true
	}
	if e.l.op == "k" {
		if overIHL {
			g.ins = append(g.ins, bpf.LoadMemShift{Off: l.nl}, bpf.LoadIndirect{Off: base + e.l.k, Size: e.size})
		} else {
			g.ins = append(g.ins, bpf.LoadAbsolute{Off: base + e.l.k, Size: e.size})
		}
		return nil
	}
	if err := g.code(e.l, depth); err != nil {
		return err
	}
	if overIHL {
		g.ins = append(g.ins, bpf.StoreScratch{Src: bpf.RegA, N: depth}, bpf.LoadMemShift{Off: l.nl},
			bpf.LoadScratch{Dst: bpf.RegA, N: depth}, bpf.ALUOpX{Op: bpf.ALUOpAdd})
	}
	g.ins = append(g.ins, bpf.TAX{}, bpf.LoadIndirect{Off: base, Size: e.size})
	return nil
}

// relation compiles "left op right" into the guards followed by one test.
func (l link) relation(left *arith, op string, right *arith) (*pred, error) {
	g := &arithGen{l: l, seen: map[string]bool{}}
	if err := g.code(left, 0); err != nil {
		return nil, err
	}
	ro := relops[op]
	t := &pred{kind: pTest, cond: ro.cond}
	if right.op == "k" {
		t.k = right.k
	} else {
		g.ins = append(g.ins, bpf.StoreScratch{Src: bpf.RegA, N: 0})
		if err := g.code(right, 1); err != nil {
			return nil, err
		}
		g.ins = append(g.ins, bpf.TAX{}, bpf.LoadScratch{Dst: bpf.RegA, N: 0})
		t.cond |= srcX
	}
	t.pre = g.ins
	var res *pred = t
	if ro.invert {
		res = not(t)
	}
	return and(append(g.guards, res)...), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
