package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Classic BPF opcode pieces used directly: jumps are emitted raw because
// their offsets are only known after layout.
const (
	opJA   = 0x05 // BPF_JMP|BPF_JA
	opJEQ  = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
	opJGT  = 0x25
	opJGE  = 0x35
	opJSET = 0x45
	srcX   = 0x08 // BPF_X: compare with X instead of K
	opRetK = 0x06 // BPF_RET|BPF_K

	maxInsns = 4096 // the kernel's BPF_MAXINSNS
)

type predKind int

const (
	pTest  predKind = iota // pre instructions, then a conditional jump
	pAnd                   // all kids, left to right, short-circuit
	pOr                    // any kid, left to right, short-circuit
	pNot                   // kids[0] with the outcomes swapped
	pConst                 // always val
)

// pred is a boolean program fragment. Code is generated with explicit true
// and false targets, so and/or/not need no extra instructions.
type pred struct {
	kind predKind
	kids []*pred
	val  bool
	pre  []bpf.Instruction
	cond uint16 // opJEQ, opJGT, opJGE or opJSET, optionally |srcX
	k    uint32
}

func and(ps ...*pred) *pred { return &pred{kind: pAnd, kids: ps} }
func or(ps ...*pred) *pred  { return &pred{kind: pOr, kids: ps} }
func not(p *pred) *pred     { return &pred{kind: pNot, kids: []*pred{p}} }
func constant(v bool) *pred { return &pred{kind: pConst, val: v} }

func test(cond uint16, k uint32, pre ...bpf.Instruction) *pred {
	return &pred{kind: pTest, pre: pre, cond: cond, k: k}
}

// item is one instruction or label in the program before layout.
type item struct {
	label  int // >= 0: this item only marks a label
	raw    bpf.RawInstruction
	jt, jf int // label ids for conditional jumps, -1 otherwise
	ja     int // label id for an unconditional jump, -1 otherwise
}

type asm struct {
	items  []item
	labels int
	insns  int // instructions emitted so far, to give up early on huge programs
}

var errTooLong = fmt.Errorf("filter: program too long (more than %d instructions, the kernel's limit)", maxInsns)

func (a *asm) newLabel() int { a.labels++; return a.labels - 1 }

func (a *asm) place(l int) { a.items = append(a.items, item{label: l, jt: -1, jf: -1, ja: -1}) }

func (a *asm) emit(ins bpf.Instruction) error {
	raw, err := ins.Assemble()
	if err != nil {
		return fmt.Errorf("filter: internal: %w", err)
	}
	return a.add(item{label: -1, raw: raw, jt: -1, jf: -1, ja: -1})
}

func (a *asm) add(it item) error {
	if a.insns++; a.insns > maxInsns {
		return errTooLong
	}
	a.items = append(a.items, it)
	return nil
}

// gen emits p so that it jumps to label t when true and f when false. in
// describes what register A holds on entry ("" if unknown); gen returns the
// same for the jumps to t and to f. A test whose loads would recompute what
// A already holds skips them, which is the one optimization here: it makes
// "tcp or udp" and port checks read the protocol byte once, as libpcap's
// optimizer does, and it cannot change which loads fault.
func (a *asm) gen(p *pred, t, f int, in string) (string, string, error) {
	switch p.kind {
	case pConst:
		dst := f
		if p.val {
			dst = t
		}
		return in, in, a.add(item{label: -1, raw: bpf.RawInstruction{Op: opJA}, jt: -1, jf: -1, ja: dst})
	case pNot:
		oT, oF, err := a.gen(p.kids[0], f, t, in)
		return oF, oT, err
	case pAnd, pOr:
		isAnd := p.kind == pAnd
		state := in
		var shared []string // A at the exit every kid may take (f for and, t for or)
		for i, kid := range p.kids {
			if i == len(p.kids)-1 {
				oT, oF, err := a.gen(kid, t, f, state)
				if isAnd {
					return oT, merge(append(shared, oF)), err
				}
				return merge(append(shared, oT)), oF, err
			}
			next := a.newLabel()
			var oT, oF string
			var err error
			if isAnd {
				oT, oF, err = a.gen(kid, next, f, state)
				shared, state = append(shared, oF), oT
			} else {
				oT, oF, err = a.gen(kid, t, next, state)
				shared, state = append(shared, oT), oF
			}
			if err != nil {
				return "", "", err
			}
			a.place(next) // reached only from kid, so A is known there
		}
		return a.gen(constant(isAnd), t, f, in) // empty and/or
	}
	key := fmt.Sprint(p.pre)
	if key != in || p.cond&srcX != 0 || len(p.pre) == 0 { // a comparison with X needs its pre for X
		for _, ins := range p.pre {
			if err := a.emit(ins); err != nil {
				return "", "", err
			}
		}
	}
	if err := a.add(item{label: -1, raw: bpf.RawInstruction{Op: p.cond, K: p.k}, jt: t, jf: f, ja: -1}); err != nil {
		return "", "", err
	}
	if len(p.pre) == 0 {
		key = in
	}
	return key, key, nil
}

// merge is the state of A where several jumps meet: known only if they agree.
func merge(states []string) string {
	for _, s := range states[1:] {
		if s != states[0] {
			return ""
		}
	}
	return states[0]
}

// assemble generates p and lays it out. Every jump goes forward. A
// conditional branch whose target is more than 255 instructions away goes
// through a JA placed right after it, since jt/jf are 8 bits and JA's offset
// is 32; layout repeats until no branch is out of range.
func assemble(p *pred, snaplen uint32) ([]bpf.RawInstruction, error) {
	a := &asm{}
	accept, reject := a.newLabel(), a.newLabel()
	if _, _, err := a.gen(p, accept, reject, ""); err != nil {
		return nil, err
	}
	a.place(accept)
	a.items = append(a.items, item{label: -1, raw: bpf.RawInstruction{Op: opRetK, K: snaplen}, jt: -1, jf: -1, ja: -1})
	a.place(reject)
	a.items = append(a.items, item{label: -1, raw: bpf.RawInstruction{Op: opRetK}, jt: -1, jf: -1, ja: -1})

	for {
		pos, n := a.layout()
		if n > maxInsns {
			return nil, errTooLong
		}
		var fixed []item
		changed := false
		idx := 0
		for _, it := range a.items {
			fixed = append(fixed, it)
			if it.label >= 0 {
				continue
			}
			if it.jt >= 0 {
				var tramps []item
				if pos[it.jt]-(idx+1) > 255 {
					l := a.newLabel()
					tramps = append(tramps, item{label: l, jt: -1, jf: -1, ja: -1},
						item{label: -1, raw: bpf.RawInstruction{Op: opJA}, jt: -1, jf: -1, ja: it.jt})
					fixed[len(fixed)-1].jt = l
				}
				if pos[it.jf]-(idx+1) > 255 {
					l := a.newLabel()
					tramps = append(tramps, item{label: l, jt: -1, jf: -1, ja: -1},
						item{label: -1, raw: bpf.RawInstruction{Op: opJA}, jt: -1, jf: -1, ja: it.jf})
					fixed[len(fixed)-1].jf = l
				}
				if len(tramps) > 0 {
					changed = true
					fixed = append(fixed, tramps...)
				}
			}
			idx++
		}
		a.items = fixed
		if !changed {
			break
		}
	}
	pos, _ := a.layout()
	var out []bpf.RawInstruction
	for _, it := range a.items {
		if it.label >= 0 {
			continue
		}
		raw := it.raw
		here := len(out) + 1
		if it.jt >= 0 {
			raw.Jt, raw.Jf = uint8(pos[it.jt]-here), uint8(pos[it.jf]-here)
		}
		if it.ja >= 0 {
			raw.K = uint32(pos[it.ja] - here)
		}
		out = append(out, raw)
	}
	if err := Validate(out); err != nil {
		return nil, fmt.Errorf("filter: internal: %w", err)
	}
	return out, nil
}

// layout returns each label's instruction index and the instruction count.
func (a *asm) layout() (map[int]int, int) {
	pos := make(map[int]int, a.labels)
	n := 0
	for _, it := range a.items {
		if it.label >= 0 {
			pos[it.label] = n
		} else {
			n++
		}
	}
	return pos, n
}

// Validate checks what the kernel's classic BPF checker checks about control
// flow: a non-empty program no longer than 4096 instructions, every jump
// landing inside the program, and a return as the last instruction.
func Validate(prog []bpf.RawInstruction) error {
	n := len(prog)
	if n == 0 || n > maxInsns {
		return fmt.Errorf("program has %d instructions (want 1..%d)", n, maxInsns)
	}
	for i, ins := range prog {
		if ins.Op&0x07 != 0x05 { // not BPF_JMP
			continue
		}
		if ins.Op == opJA {
			if uint64(i)+1+uint64(ins.K) >= uint64(n) {
				return fmt.Errorf("instruction %d: ja %d jumps past the end", i, ins.K)
			}
			continue
		}
		if i+1+int(ins.Jt) >= n || i+1+int(ins.Jf) >= n {
			return fmt.Errorf("instruction %d: jump (jt %d, jf %d) past the end", i, ins.Jt, ins.Jf)
		}
	}
	if last := prog[n-1].Op; last&0x07 != 0x06 { // BPF_RET
		return fmt.Errorf("last instruction (op %#x) is not a return", last)
	}
	return nil
}
