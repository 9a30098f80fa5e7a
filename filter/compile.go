package filter

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/bpf"
)

// DefaultSnaplen is what the accept instruction returns when Compile is
// given 0, the same as tcpdump's default.
const DefaultSnaplen = 262144

// Compile turns a tcpdump-syntax expression into a classic BPF program for
// the link type. Accepted packets return snaplen (0 means DefaultSnaplen).
// An empty expression accepts everything. Errors are *SyntaxError,
// *UnsupportedError, or a plain error for a program too long for the kernel.
func Compile(expr string, lt LinkType, snaplen uint32) ([]bpf.RawInstruction, error) {
	l, ok := newLink(lt)
	if !ok {
		return nil, &UnsupportedError{Part: fmt.Sprintf("link type %d", lt), Why: "only Ethernet (1), raw IP (101, 12) and Linux cooked (113)"}
	}
	if snaplen == 0 {
		snaplen = DefaultSnaplen
	}
	if len(expr) > maxExprLen {
		return nil, &SyntaxError{Pos: maxExprLen, Msg: fmt.Sprintf("expression longer than %d bytes", maxExprLen)}
	}
	if strings.TrimSpace(expr) == "" {
		return []bpf.RawInstruction{{Op: opRetK, K: snaplen}}, nil
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, close: matchParens(toks), l: l}
	pr, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if why, ok := unsupportedWords[t.text]; ok && t.kind == tWord {
			return nil, unsupported(t.text, why)
		}
		return nil, &SyntaxError{Pos: t.pos, Msg: "unexpected " + describe(t) + " (missing and/or?)"}
	}
	if folded := fold(pr); folded.kind == pConst && !folded.val {
		return nil, ErrRejectsAll
	}
	return assemble(pr, snaplen)
}

// maxExprLen bounds parsing work; a filter that fits the kernel's 4096
// instructions is far shorter.
const maxExprLen = 64 << 10

// ErrRejectsAll is returned, as libpcap does, for an expression that can
// never match, such as "arp" on a raw IP link. Without an optimizer only
// constant cases are caught: "tcp and udp" compiles to a program that
// rejects everything.
var ErrRejectsAll = errors.New("filter: expression rejects all packets")

// fold simplifies constants through and/or/not, only to spot ErrRejectsAll.
func fold(p *pred) *pred {
	switch p.kind {
	case pNot:
		if k := fold(p.kids[0]); k.kind == pConst {
			return constant(!k.val)
		}
	case pAnd, pOr:
		short := p.kind == pOr // the value that decides an or (true) or an and (false)
		allConst := true
		for _, kid := range p.kids {
			k := fold(kid)
			if k.kind != pConst {
				allConst = false
			} else if k.val == short {
				return constant(short)
			}
		}
		if allConst {
			return constant(!short)
		}
	}
	return p
}
