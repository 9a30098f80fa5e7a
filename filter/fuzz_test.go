package filter

import (
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// FuzzCompile: no input panics, every error is one of ours, and every
// program passes Validate and loads into the x/net/bpf VM (jumps in range).
func FuzzCompile(f *testing.F) {
	for _, e := range equivalenceExprs {
		f.Add(e)
	}
	for _, e := range rejectsAll {
		f.Add(e)
	}
	for _, e := range []string{"((((", "tcp[", "tcp[1:", "host ::", "net 1.2.3.4/", "port 1 or 2 or (3 or 4)",
		"- - - 1 = 1", "not not not", "ip[1]=1=1", "\\tcp", "ip proto \\", "portrange -", "::::::", "a[0]=1",
		"len[0] = 1", "tcp-syn[0] = 1", "0x[0]", "((ip[0]+1)*(ip[1]+2)) % 3 = 1", "host 1.2.3.4 mask 255.255.255.255"} {
		f.Add(e)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, lt := range []LinkType{LinkEthernet, LinkRaw, LinkLinuxSLL} {
			prog, err := Compile(expr, lt, 128)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "filter: ") {
					t.Fatalf("%q: error without the package prefix: %v", expr, err)
				}
				continue
			}
			if err := Validate(prog); err != nil {
				t.Fatalf("%q: %v", expr, err)
			}
			insns, ok := bpf.Disassemble(prog)
			if !ok {
				t.Fatalf("%q: program does not disassemble", expr)
			}
			if _, err := bpf.NewVM(insns); err != nil {
				t.Fatalf("%q: NewVM: %v", expr, err)
			}
		}
	})
}
