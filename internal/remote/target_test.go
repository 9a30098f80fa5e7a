package remote

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		in         string
		user, host string
		port       int
		dest       string
	}{
		{"r1", "", "r1", 0, "r1"},
		{"root@r1:2222", "root", "r1", 2222, "root@r1"},
		{"r1.example.net:22", "", "r1.example.net", 22, "r1.example.net"},
		{"10.0.0.7", "", "10.0.0.7", 0, "10.0.0.7"},
		{"[::1]:22", "", "::1", 22, "::1"},
		{"admin@[fe80::1]", "admin", "fe80::1", 0, "admin@fe80::1"},
		{"2001:db8::7", "", "2001:db8::7", 0, "2001:db8::7"},
		{"me@corp@bastion", "me@corp", "bastion", 0, "me@corp@bastion"},
	} {
		got, err := ParseTarget(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got.User != c.user || got.Host != c.host || got.Port != c.port || got.destination() != c.dest || got.String() != c.in {
			t.Errorf("%q: got %+v dest %q", c.in, got, got.destination())
		}
	}
}

func TestBadTargetsNameTheValueInOneLine(t *testing.T) {
	for _, in := range []string{"", "@r1", "root@", "r1:", "r1:0", "r1:70000", "r1:ssh", "[::1", "[::1]x", "[r1]:22",
		"-oProxyCommand=sh", "r1 r2", "r1\x1b[2J", "fe80::1:22x", "a/b"} {
		_, err := ParseTarget(in)
		if err == nil {
			t.Errorf("%q: accepted", in)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "--ssh ") || !strings.Contains(msg, "[user@]host[:port]") || strings.Contains(msg, "\n") {
			t.Errorf("%q: error %q does not name the flag and the form in one line", in, msg)
		}
	}
}

func TestSSHCommandFromEnv(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                 {"ssh"},
		"  ":                               {"ssh"},
		"ssh -F /tmp/x/config":             {"ssh", "-F", "/tmp/x/config"},
		`ssh -F "/tmp/my dir/config" -v`:   {"ssh", "-F", "/tmp/my dir/config", "-v"},
		`/opt/ssh/bin/ssh -o 'User=a b'`:   {"/opt/ssh/bin/ssh", "-o", "User=a b"},
		`ssh -J jump\ host -i ~/.ssh/k`:    {"ssh", "-J", "jump host", "-i", "~/.ssh/k"},
		"ssh\t-oControlMaster=no\n-4":      {"ssh", "-oControlMaster=no", "-4"},
		`ssh -o "ProxyCommand=nc %h %p"  `: {"ssh", "-o", "ProxyCommand=nc %h %p"},
	} {
		got, err := parseSSHCommand(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseSSHCommand(`ssh -F "unclosed`); err == nil || !strings.Contains(err.Error(), EnvSSH) {
		t.Errorf("unbalanced quote: %v, want an error naming %s", err, EnvSSH)
	}
}

func TestArgvPutsOurOptionsFirstAndTheDestinationAfterDashDash(t *testing.T) {
	tg, _ := ParseTarget("root@[::1]:2222")
	got := argv([]string{"ssh", "-F", "cfg"}, tg, "CMD")
	want := []string{"ssh", "-F", "cfg", "-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
		"-o", "ConnectTimeout=15", "-p", "2222", "--", "root@::1", "CMD"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("argv\n got %q\nwant %q", got, want)
	}
	tg, _ = ParseTarget("h1")
	if got := argv([]string{"ssh"}, tg, "C"); strings.Contains(strings.Join(got, " "), "-p") {
		t.Errorf("no port given, but argv has -p: %q", got)
	}
}

// The remote command goes through the remote login shell: every argument
// must come out as it went in, whatever it holds.
func TestRemoteCommandQuotesEveryArgument(t *testing.T) {
	args := []string{"--filter", "vrrp or (tcp port 443 and host 10.0.0.1)", "--proc", "it's", "--mount", "/srv/a b",
		"--proc", `$(touch /tmp/pwned)`, "--proc", "`id`", "--proc", `a\b"c`, "--proc", "*", "--proc", ""}
	cmd := remoteCommand("1.2.3", args)
	// Swap the boot script for one that prints its arguments, keeping the
	// quoting remoteCommand produced for them.
	i := strings.Index(cmd, " stakeout-boot ")
	printer := `exec sh -c 'for a in "$@"; do printf "%s\n" "[$a]"; done' stakeout-boot` + cmd[i+len(" stakeout-boot"):]
	for _, sh := range []string{"sh", "bash", "dash"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		out, err := exec.Command(sh, "-c", printer).Output()
		if err != nil {
			t.Fatalf("%s: %v", sh, err)
		}
		want := "[1.2.3]\n"
		for _, a := range args {
			want += "[" + a + "]\n"
		}
		if string(out) != want {
			t.Errorf("%s got\n%s\nwant\n%s", sh, out, want)
		}
	}
}

// The boot script travels as one line (csh takes no newline in quotes):
// every shell must still read it.
func TestBootScriptParsesAsOneLine(t *testing.T) {
	line := strings.ReplaceAll(bootScript, "\n", " ")
	if strings.Contains(bootScript, "'") {
		t.Fatal("the boot script holds a single quote: it travels inside single quotes")
	}
	for _, sh := range []string{"sh", "bash", "dash"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		if out, err := exec.Command(sh, "-n", "-c", line).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v: %s", sh, err, out)
		}
	}
}

func TestArchFits(t *testing.T) {
	for _, c := range []struct {
		goarch, machine string
		fits            bool
	}{
		{"amd64", "x86_64", true}, {"amd64", "aarch64", false}, {"arm64", "aarch64", true}, {"arm64", "arm64", true},
		{"arm64", "x86_64", false}, {"386", "i686", true}, {"arm", "armv7l", true}, {"riscv64", "riscv64", true},
	} {
		if got := archFits(c.goarch, c.machine); got != c.fits {
			t.Errorf("archFits(%s, %s) = %v", c.goarch, c.machine, got)
		}
	}
	if got := archName("amd64"); got != "x86_64 (amd64)" {
		t.Errorf("archName(amd64) = %q", got)
	}
}

// The offset is the host's reading minus the midpoint of send and
// receive; the round trip is the difference.
func TestClockSample(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	t1 := t0.Add(40 * time.Millisecond)
	host := t0.Add(20*time.Millisecond + 3*time.Second)
	s := sample(t0, t1, host)
	if s.offset != 3*time.Second || s.rtt != 40*time.Millisecond {
		t.Errorf("sample = %+v, want offset 3s rtt 40ms", s)
	}
	// A host behind us: a negative offset.
	s = sample(t0, t1, t0.Add(20*time.Millisecond-1500*time.Millisecond))
	if s.offset != -1500*time.Millisecond {
		t.Errorf("offset %v, want -1.5s", s.offset)
	}
	// With monotonic readings (time.Now), the midpoint is still on the wall clock.
	n0 := time.Now()
	n1 := n0.Add(10 * time.Millisecond)
	s = sample(n0, n1, n0.Round(0).Add(5*time.Millisecond))
	if s.offset != 0 {
		t.Errorf("offset %v with monotonic readings, want 0", s.offset)
	}
}

func TestExplainSaysKeysAreNeeded(t *testing.T) {
	got := explain("root@10.9.0.2: Permission denied (publickey,password).")
	if !strings.Contains(got, "BatchMode") || !strings.Contains(got, "key or an agent") {
		t.Errorf("explain = %q", got)
	}
	if got := explain("ssh: connect to host r1 port 22: Connection refused"); strings.Contains(got, "BatchMode") {
		t.Errorf("explain added the key hint to %q", got)
	}
}

func TestTestEnvHooks(t *testing.T) {
	t.Setenv(EnvTestClockSkew, "h1=-1s, h2=3s")
	t.Setenv(EnvTestCorruptCopy, "h3,h2")
	o := Options{Target: Target{Host: "h2"}}
	if err := applyTestEnv(&o); err != nil {
		t.Fatal(err)
	}
	if o.ClockSkew != 3*time.Second || !o.CorruptCopy {
		t.Errorf("h2: skew %v corrupt %v", o.ClockSkew, o.CorruptCopy)
	}
	if a := o.streamArgs(); len(a) < 2 || a[0] != "--clock-skew" || a[1] != "3s" {
		t.Errorf("streamArgs %q", a)
	}
	o = Options{Target: Target{Host: "h4"}}
	_ = applyTestEnv(&o)
	if o.ClockSkew != 0 || o.CorruptCopy || len(o.streamArgs()) != 0 {
		t.Errorf("h4 got hooks: %+v", o)
	}
	t.Setenv(EnvTestClockSkew, "h2")
	if err := applyTestEnv(&o); err == nil {
		t.Error("a malformed skew was accepted")
	}
}
