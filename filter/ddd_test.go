package filter

import (
	"os/exec"
	"strings"
	"testing"
)

func TestParseTcpdumpDDD(t *testing.T) {
	// `tcpdump -y EN10MB -ddd vrrp`
	vrrp := "6\n40 0 0 12\n21 0 3 2048\n48 0 0 23\n21 0 1 112\n6 0 0 262144\n6 0 0 0\n"
	prog, err := ParseTcpdumpDDD(vrrp)
	if err != nil || len(prog) != 6 || prog[3].K != 112 || prog[1].Jf != 3 {
		t.Fatalf("ParseTcpdumpDDD = %v, %v", prog, err)
	}
	ps := buildCorpus()
	if got := accepts(t, prog, []packet{findPacket(t, ps, "vrrp advert"), findPacket(t, ps, "v4 tcp flags 0x2")}); got != "10" {
		t.Errorf("vrrp program verdicts %s, want 10", got)
	}
	dd := "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000806 },\n{ 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n"
	if prog, err := ParseTcpdumpDDD(dd); err != nil || len(prog) != 4 || prog[1].K != 0x806 {
		t.Errorf("-dd form: %v, %v", prog, err)
	}
	bad := map[string]string{
		"":                               "no instructions",
		"2\n6 0 0 1\n":                   "count line says 2",
		"x\n6 0 0 1\n":                   "not a number",
		"1\n6 0 0\n":                     "want \"code jt jf k\"",
		"1\n6 0 0 z\n":                   "field 4",
		"1\n6 300 0 1\n":                 "8-bit",
		"2\n21 0 5 1\n6 0 0 1\n":         "past the end",
		"1\n40 0 0 12\n":                 "not a return",
		"2\n65535 0 0 0\n6 0 0 1\n":      "unknown opcode",
		"3\n5 0 0 7\n6 0 0 1\n6 0 0 0\n": "past the end",
	}
	for in, want := range bad {
		if _, err := ParseTcpdumpDDD(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTcpdumpDDD(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

// TestDDDRoundTrip: real tcpdump -ddd output for a form we cannot compile.
func TestDDDRoundTrip(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed: the hand-written -ddd cases above still run")
	}
	out, err := exec.Command(tcpdump, "-y", "EN10MB", "-ddd", "vlan and tcp").Output()
	if err != nil {
		t.Fatal(err)
	}
	prog, err := ParseTcpdumpDDD(string(out))
	if err != nil {
		t.Fatal(err)
	}
	ps := buildCorpus()
	if got := accepts(t, prog, []packet{findPacket(t, ps, "vlan v4 tcp 80"), findPacket(t, ps, "v4 tcp flags 0x2")}); got != "10" {
		t.Errorf("vlan and tcp verdicts %s, want 10", got)
	}
}
