package filter

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

func findPacket(t *testing.T, ps []packet, name string) packet {
	t.Helper()
	for _, p := range ps {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no corpus packet %q", name)
	return packet{}
}

func runOne(t *testing.T, expr string, p packet) bool {
	t.Helper()
	prog, err := Compile(expr, LinkEthernet, 128)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expr, err)
	}
	return accepts(t, prog, []packet{p}) == "1"
}

// TestKnownVerdicts pins behaviour without tcpdump, including the two
// mistakes packetcap/go-pcap/filter makes (vrrp accepting everything,
// tcp[tcpflags] compiling to plain tcp).
func TestKnownVerdicts(t *testing.T) {
	ps := buildCorpus()
	cases := []struct {
		expr, packet string
		want         bool
	}{
		{"vrrp", "vrrp advert", true},
		{"vrrp", "v4 tcp flags 0x2", false},
		{"vrrp", "v4 udp 10.0.0.1:40000>192.168.1.10:53", false},
		{"vrrp", "vlan vrrp", false}, // libpcap does not look inside VLAN tags without "vlan"
		{"ip proto 112", "vrrp unicast mac", true},
		{"ip proto 112", "igmp report", false},
		{"tcp[tcpflags] & tcp-rst != 0", "v4 tcp flags 0x2", false},
		{"tcp[tcpflags] & tcp-rst != 0", "v4 tcp flags 0x4", true},
		{"tcp[tcpflags] & tcp-rst != 0", "v4 tcp flags 0x14", true},
		{"tcp[tcpflags] & tcp-rst != 0", "v4 opts tcp flags 0x4", true}, // IP options shift the TCP header
		{"tcp[tcpflags] & tcp-rst != 0", "v4 frag off=185 mf=true df=false tcp", false},
		{"tcp[tcpflags] & tcp-rst != 0", "v4 frag off=0 mf=true df=false tcp", true},
		{"tcp[tcpflags] & (tcp-syn|tcp-rst|tcp-fin) != 0", "v4 tcp flags 0x10", false},
		{"tcp[tcpflags] & (tcp-syn|tcp-rst|tcp-fin) != 0", "v4 tcp flags 0x11", true},
		{"tcp[tcpflags] & tcp-syn != 0", "v6 tcp flags 0x3", false}, // tcp[] is IPv4-only in libpcap
		{"port 53", "v4 udp 10.0.0.1:40000>192.168.1.10:53", true},
		{"port 53", "v6 udp 2001:db8::1:40000>2001:db8::2:53", true},
		{"port 53", "v4 sctp 10.0.0.1", true},
		{"port 53", "v4 frag off=185 mf=true df=false udp", false},
		{"port 53", "v4 frag off=0 mf=true df=false udp", true},
		{"port 53", "v4 gre 10.0.0.1", false},
		{"port 53", "v4 frag off=4096 mf=false df=false udp", false},
		{"port 53", "v4 frag off=0 mf=false df=true udp", true},
		{"udp port 53", "v6 frag udp later 2001:db8::1", false},
		{"udp", "v6 frag udp later 2001:db8::1", true},
		{"udp", "v6 hopopts udp 2001:db8::1", false},
		{"not arp and net 10.0.0.0/8", "v4 tcp 10.0.0.1:40000>192.168.1.10:53", true},
		{"not arp and net 10.0.0.0/8", "arp request 10.0.0.1", false},
		{"host 10.0.0.1", "arp request 10.0.0.1", true},
		{"ip host 10.0.0.1", "arp request 10.0.0.1", false},
		{"multicast", "vrrp advert", true},
		{"broadcast", "almost-bcast mac", false},
		{"broadcast", "udp bcast 255.255.255.255", true},
		{"ip multicast", "udp to 223.255.255.255", false},
		{"ip multicast", "udp to 239.1.1.1", true},
		{"ip6 multicast", "v6 to ff02::1", true},
		{"portrange 10-20", "v4 tcp 10.0.0.1:10>192.168.1.10:20", true},
		{"portrange 10-20", "v4 tcp 10.0.0.1:21>192.168.1.10:9", false},
		{"tcp port 80", "vlan v4 tcp 80", false},
		{"port 53 or 80", "v4 tcp 10.0.0.1:80>192.168.1.10:1024", true},
		{"", "lldp", true},
		{"not ip and not ip6", "lldp", true},
		{longExpr(), "vrrp advert", true},
		{longExpr(), "v4 tcp 10.0.0.1:40000>192.168.1.10:53", true},
		{longExpr(), "v4 udp 1.2.3.4:40000>8.8.8.8:53", false},
	}
	for _, c := range cases {
		if got := runOne(t, c.expr, findPacket(t, ps, c.packet)); got != c.want {
			t.Errorf("%q on %q: accept=%v, want %v", c.expr, c.packet, got, c.want)
		}
	}
}

// TestAcceptLength: an accepted packet yields the snaplen (the kernel then
// copies min(snaplen, length) into the ring; x/net/bpf's VM does not cap).
func TestAcceptLength(t *testing.T) {
	prog, err := Compile("vrrp or tcp", LinkEthernet, 40)
	if err != nil {
		t.Fatal(err)
	}
	insns, _ := bpf.Disassemble(prog)
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range buildCorpus() {
		n, err := vm.Run(p.data)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 && n != 40 {
			t.Fatalf("%s: accepted with %d bytes, want 40", p.name, n)
		}
	}
}

func TestSnaplenAndEmpty(t *testing.T) {
	for _, expr := range []string{"", "  \t"} {
		prog, err := Compile(expr, LinkEthernet, 96)
		if err != nil || len(prog) != 1 || prog[0] != (bpf.RawInstruction{Op: opRetK, K: 96}) {
			t.Errorf("Compile(%q) = %v, %v; want one ret #96", expr, prog, err)
		}
	}
	prog, _ := Compile("tcp", LinkEthernet, 0)
	if prog[len(prog)-2].K != DefaultSnaplen {
		t.Errorf("snaplen 0 should accept with %d, got %v", DefaultSnaplen, prog)
	}
	if _, err := Compile("tcp", LinkType(228), 0); err == nil {
		t.Error("unknown link type compiled")
	}
}

// TestLongJumps: a branch more than 255 instructions away goes through JA.
func TestLongJumps(t *testing.T) {
	prog, err := Compile(longExpr(), LinkEthernet, 128)
	if err != nil {
		t.Fatal(err)
	}
	jas := 0
	for _, ins := range prog {
		if ins.Op == opJA {
			jas++
		}
	}
	if len(prog) < 300 || jas == 0 {
		t.Fatalf("expected a long program with JA trampolines: %d instructions, %d JA", len(prog), jas)
	}
	if err := Validate(prog); err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("host 10.0.0.1 or ", 400) + "tcp"
	if _, err := Compile(huge, LinkEthernet, 128); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("a program over 4096 instructions: got %v", err)
	}
}

func TestUnsupported(t *testing.T) {
	cases := map[string]string{
		"ether host 02:00:00:00:00:0a": "ether host",
		"ether src 02:00:00:00:00:0a":  "ether src",
		"ether proto 0x800":            "ether proto",
		"ether portrange 1-2":          "ether portrange",
		"vlan":                         "vlan",
		"vlan 10 and tcp":              "vlan",
		"tcp and vlan":                 "vlan",
		"mpls":                         "mpls",
		"gateway foo":                  "gateway",
		"host example.com":             "host example.com",
		"port http":                    "port http",
		"ip proto bogus":               "proto bogus",
		"arp[6:2] = 1":                 "arp[...]",
		"sctp[0] = 1":                  "sctp[...]",
		"ip broadcast":                 "ip broadcast",
		"ip6 broadcast":                "ip6 broadcast",
		"tcp host 1.2.3.4":             "tcp host",
		"udp net 10.0.0.0/8":           "udp net",
		"icmp port 1":                  "icmp port",
		"ip port 80":                   "ip port",
		"arp host ::1":                 "arp host ::1",
		"host 10.1":                    "host 10.1",
		"inbound":                      "inbound",
		"ip protochain 6":              "ip protochain",
		"tcp proto 6":                  "tcp proto",
		"ether":                        "ether",
	}
	for expr, part := range cases {
		_, err := Compile(expr, LinkEthernet, 128)
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want an UnsupportedError", expr, err)
			continue
		}
		if ue.Part != part || !strings.Contains(err.Error(), "'"+part+"'") || !strings.Contains(err.Error(), "supported:") {
			t.Errorf("%q: part %q (%v), want %q", expr, ue.Part, err, part)
		}
	}
	for _, lt := range []LinkType{LinkRaw, LinkLinuxSLL} {
		for _, expr := range []string{"multicast", "broadcast"} {
			if _, err := Compile(expr, lt, 0); err == nil {
				t.Errorf("%q on link %d compiled; libpcap rejects it", expr, lt)
			}
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, expr := range []string{
		"port", "port 70000", "tcp and", "and tcp", "(tcp", "tcp)", "host", "host 1.2.3.4.5",
		"net 10.0.0.1/8", "net 10.0.0.0/33", "host 300.1.1.1", "80", "1.2.3.4", "tcp and 80",
		"(port 80) and 443", "tcp[13] &", "tcp[13:3] = 1", "ip[0] / 0 = 1", "ip[0] % 0 = 1",
		"ip[0] << 32 = 0", "tcp[13] & 4", "portrange 10", "portrange a-b", "ip proto 256",
		"host 1.2.3.4 mask 255.0.0.0", "net ::1 mask ffff::", "tcp $", "not", "!", "()",
		"host fe80::1%eth0", "proto 6 7", "src or dst", "len > ", "tcp[", "host ::1/64",
		"port 53 or 10.0.0.1", "ip6 host 1.2.3.4", "less", "greater x", "less 1 2",
	} {
		prog, err := Compile(expr, LinkEthernet, 128)
		if err == nil {
			t.Errorf("%q compiled to %d instructions, want an error", expr, len(prog))
			continue
		}
		var se *SyntaxError
		var ue *UnsupportedError
		if !errors.As(err, &se) && !errors.As(err, &ue) {
			t.Errorf("%q: unexpected error type %T: %v", expr, err, err)
		}
	}
}
