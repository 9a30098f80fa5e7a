package filter

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// ParseTcpdumpDDD reads a program written by `tcpdump -ddd EXPR`: a line with
// the instruction count, then one "code jt jf k" line (decimal) per
// instruction. It also takes `tcpdump -dd` output ("{ 0x28, 0, 0, 0x0000000c },"
// lines without a count). Blank lines and lines starting with '#' are
// skipped. The program must pass Validate and contain only opcodes that
// golang.org/x/net/bpf knows, which are the ones the kernel accepts.
func ParseTcpdumpDDD(text string) ([]bpf.RawInstruction, error) {
	var prog []bpf.RawInstruction
	want := -1
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(strings.NewReplacer("{", " ", "}", " ", ",", " ").Replace(line))
		if want < 0 && len(prog) == 0 && len(fields) == 1 {
			c, err := strconv.ParseUint(fields[0], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bpf line %d: instruction count %q is not a number", n+1, fields[0])
			}
			want = int(c)
			continue
		}
		if len(fields) != 4 {
			return nil, fmt.Errorf("bpf line %d: want \"code jt jf k\", got %q", n+1, line)
		}
		var v [4]uint64
		limits := [4]int{16, 8, 8, 32}
		for i, f := range fields {
			x, err := strconv.ParseUint(f, 0, limits[i])
			if err != nil {
				return nil, fmt.Errorf("bpf line %d: field %d %q is not a %d-bit number", n+1, i+1, f, limits[i])
			}
			v[i] = x
		}
		prog = append(prog, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	if len(prog) == 0 {
		return nil, fmt.Errorf("bpf: no instructions (expected `tcpdump -ddd` output)")
	}
	if want >= 0 && want != len(prog) {
		return nil, fmt.Errorf("bpf: the count line says %d instructions but there are %d", want, len(prog))
	}
	if err := Validate(prog); err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	insns, ok := bpf.Disassemble(prog)
	if !ok {
		for i, ins := range insns {
			if _, raw := ins.(bpf.RawInstruction); raw {
				return nil, fmt.Errorf("bpf: instruction %d: unknown opcode %#x", i, prog[i].Op)
			}
		}
	}
	return prog, nil
}
