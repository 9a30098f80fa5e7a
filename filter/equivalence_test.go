package filter

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/bpf"
)

var update = flag.Bool("update", false, "rewrite testdata/libpcap_accepts.golden from tcpdump")

const goldenPath = "testdata/libpcap_accepts.golden"

// links are the link types checked, with tcpdump's -y name.
var links = []struct {
	lt   LinkType
	name string
}{{LinkEthernet, "EN10MB"}, {LinkRaw, "RAW"}, {LinkLinuxSLL, "LINUX_SLL"}}

// accepts runs prog over the corpus and returns one '1'/'0' per packet.
func accepts(t testing.TB, prog []bpf.RawInstruction, ps []packet) string {
	t.Helper()
	prog = append([]bpf.RawInstruction(nil), prog...)
	for i, ins := range prog {
		if ins.Op == 0x84 { // BPF_ALU|BPF_NEG, which the VM lacks: A * (2^32-1) is the same
			prog[i] = bpf.RawInstruction{Op: 0x24, K: 0xffffffff}
		}
	}
	insns, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("program does not disassemble: %v", prog)
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	var b strings.Builder
	for _, p := range ps {
		n, err := vm.Run(p.data)
		if err != nil {
			t.Fatalf("vm.Run(%s): %v", p.name, err)
		}
		if n > 0 {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

// libpcapProgram asks tcpdump for its program (optimized, or with -O not).
// ok is false if tcpdump rejected the expression; err is set only if tcpdump
// could not run at all.
func libpcapProgram(tcpdump, linkName, expr string, optimize bool) (prog []bpf.RawInstruction, ok bool, err error) {
	args := []string{"-y", linkName, "-ddd"}
	if !optimize {
		args = append(args, "-O")
	}
	cmd := exec.Command(tcpdump, append(args, "--", expr)...)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	prog, err = ParseTcpdumpDDD(string(out))
	if err != nil {
		return nil, false, fmt.Errorf("parsing tcpdump -ddd for %q: %w\n%s", expr, err, out)
	}
	return prog, true, nil
}

type libpcapResult struct {
	opt []bpf.RawInstruction
	ok  bool
	err error
}

// libpcapPrograms runs tcpdump for every link and expression, several at a
// time: starting ~900 processes one by one is most of the test's runtime.
func libpcapPrograms(tcpdump string) map[string]libpcapResult {
	type job struct{ link, expr string }
	jobs := make(chan job)
	var mu sync.Mutex
	res := map[string]libpcapResult{}
	var wg sync.WaitGroup
	for w := 0; w < 2*runtime.NumCPU()+2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var r libpcapResult
				r.opt, r.ok, r.err = libpcapProgram(tcpdump, j.link, j.expr, true)
				mu.Lock()
				res[goldenKey(j.link, j.expr)] = r
				mu.Unlock()
			}
		}()
	}
	for _, ln := range links {
		for _, expr := range equivalenceExprs {
			jobs <- job{ln.name, expr}
		}
	}
	close(jobs)
	wg.Wait()
	return res
}

// packBits stores a verdict string ("0110...") as hex, four packets a digit,
// prefixed with its length; "-" stays "-".
func packBits(bits string) string {
	if bits == "-" {
		return bits
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d:", len(bits))
	for i := 0; i < len(bits); i += 4 {
		v := 0
		for j := 0; j < 4; j++ {
			v <<= 1
			if i+j < len(bits) && bits[i+j] == '1' {
				v |= 1
			}
		}
		b.WriteByte("0123456789abcdef"[v])
	}
	return b.String()
}

func unpackBits(s string) string {
	n, hexits, ok := strings.Cut(s, ":")
	length, err := strconv.Atoi(n)
	if !ok || err != nil {
		return s
	}
	var b strings.Builder
	for _, c := range hexits {
		v := strings.IndexRune("0123456789abcdef", c)
		for j := 3; j >= 0; j-- {
			b.WriteByte('0' + byte(v>>j&1))
		}
	}
	return b.String()[:min(length, b.Len())]
}

func goldenKey(linkName, expr string) string { return linkName + "\t" + expr }

func readGolden(t *testing.T) map[string]string {
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatalf("%v (generate it with go test -run TestEquivalenceWithLibpcap -update where tcpdump is installed)", err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) == 4 {
			m[goldenKey(parts[0], parts[1])] = unpackBits(parts[2]) + "\t" + unpackBits(parts[3])
		}
	}
	return m
}

// TestEquivalenceWithLibpcap is the core check: for each expression and link
// type, our program and libpcap's accept exactly the same corpus packets.
// Where tcpdump is missing, the recorded libpcap results in the golden file
// are used instead, so the test still fails on a regression.
func TestEquivalenceWithLibpcap(t *testing.T) {
	tcpdump, lookErr := exec.LookPath("tcpdump")
	if lookErr != nil {
		if *update {
			t.Fatal("-update needs tcpdump (apt-get install tcpdump)")
		}
		t.Logf("tcpdump not found (%v): comparing with the recorded libpcap results only", lookErr)
	}
	golden := map[string]string{}
	if !*update {
		golden = readGolden(t)
	}
	var newGolden []string
	var fromLibpcap map[string]libpcapResult
	if tcpdump != "" {
		fromLibpcap = libpcapPrograms(tcpdump)
	}
	corpus := buildCorpus()
	checked, packets, optimizerDiffs := 0, 0, 0
	for _, ln := range links {
		ps := forLink(corpus, ln.lt)
		for _, expr := range equivalenceExprs {
			ours, err := Compile(expr, ln.lt, 128)
			var want, wantUnopt string
			if tcpdump != "" {
				r := fromLibpcap[goldenKey(ln.name, expr)]
				if r.err != nil {
					t.Fatalf("tcpdump: %v", r.err)
				}
				if !r.ok {
					if err == nil {
						t.Errorf("%s %q: libpcap rejects it but we compiled it", ln.name, expr)
					}
					continue
				}
				want, wantUnopt = accepts(t, r.opt, ps), "-"
			} else {
				both, ok := golden[goldenKey(ln.name, expr)]
				if !ok {
					if err == nil {
						t.Errorf("%s %q: no recorded libpcap result; run with -update where tcpdump is installed", ln.name, expr)
					}
					continue
				}
				want, wantUnopt, _ = strings.Cut(both, "\t")
			}
			if err != nil {
				t.Errorf("%s %q: libpcap compiles it, we fail: %v", ln.name, expr, err)
				continue
			}
			got := accepts(t, ours, ps)
			if got != want && wantUnopt == "-" && tcpdump != "" {
				// Only now is libpcap's unoptimized program needed (see below).
				unopt, ok, terr := libpcapProgram(tcpdump, ln.name, expr, false)
				if terr != nil || !ok {
					t.Fatalf("tcpdump -O %q: ok=%v %v", expr, ok, terr)
				}
				wantUnopt = accepts(t, unopt, ps)
			}
			newGolden = append(newGolden, ln.name+"\t"+expr+"\t"+packBits(want)+"\t"+packBits(wantUnopt))
			checked++
			packets += len(ps)
			for i := range got {
				if got[i] == want[i] {
					continue
				}
				// libpcap's optimizer may skip a load that would run off the
				// end of a truncated packet, so its -O and default programs
				// disagree there; we match the unoptimized one.
				if wantUnopt != "-" && strings.Contains(ps[i].name, "[cut ") && want[i] != wantUnopt[i] && got[i] == wantUnopt[i] {
					optimizerDiffs++
					continue
				}
				t.Errorf("%s %q: packet %q: we accept=%c, libpcap accept=%c (unoptimized: %s)", ln.name, expr, ps[i].name, got[i], want[i], wantUnopt[min(i, len(wantUnopt)-1):][:1])
				break
			}
			if g, ok := golden[goldenKey(ln.name, expr)]; ok && !strings.HasPrefix(g, want+"\t") && !*update {
				t.Errorf("%s %q: %s is stale (corpus or libpcap changed); rerun with -update", ln.name, expr, goldenPath)
			}
		}
	}
	t.Logf("checked %d expression/link pairs over %d packet runs (corpus %d Ethernet frames); "+
		"%d truncated-packet verdicts follow libpcap -O where its optimizer changes the answer", checked, packets, len(corpus), optimizerDiffs)
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		data := "# link, expression, libpcap's accept (1) / reject (0) per corpus packet, the same with -O (or - if not needed); regenerate with -update\n" + strings.Join(newGolden, "\n") + "\n"
		if err := os.WriteFile(goldenPath, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRejectsAll: libpcap refuses these; we either refuse them too or compile
// a program that accepts nothing.
func TestRejectsAll(t *testing.T) {
	tcpdump, _ := exec.LookPath("tcpdump")
	corpus := buildCorpus()
	for _, expr := range rejectsAll {
		if tcpdump != "" {
			if _, ok, err := libpcapProgram(tcpdump, "EN10MB", expr, true); err != nil || ok {
				t.Errorf("%q: expected libpcap to reject it (err %v)", expr, err)
			}
		}
		prog, err := Compile(expr, LinkEthernet, 128)
		if errors.Is(err, ErrRejectsAll) {
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		if got := accepts(t, prog, corpus); strings.Contains(got, "1") {
			t.Errorf("%q accepts packet %q", expr, corpus[strings.Index(got, "1")].name)
		}
	}
	if _, err := Compile("arp", LinkRaw, 0); !errors.Is(err, ErrRejectsAll) {
		t.Errorf("arp on raw IP: got %v, want ErrRejectsAll", err)
	}
}
