package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// SSHNet is what SSHHosts made: hosts reachable over real ssh from the
// test's own network namespace.
type SSHNet struct {
	// SSH is the value for STAKEOUT_SSH: the system ssh with a client
	// config of the test's own (`ssh -F DIR/ssh_config`), so the user's
	// ~/.ssh is never read or written.
	SSH   string
	Hosts []SSHHost
}

// SSHHost is one namespace with its sshd.
type SSHHost struct {
	Alias string // h1, h2, …: the Host alias in SSHNet.SSH's config (user root)
	NS    string // the network namespace (ip netns exec NS …)
	Addr  string // its address on the bridge (one /24; the bridge is .1)
	// Tmp is the sessions' TMPDIR on that host (a temp dir of the test's):
	// where a copied stakeout would land.
	Tmp string
}

// SSHOptions change what SSHHostsWith sets up.
type SSHOptions struct {
	// Env is set in every ssh session on every host (sshd's SetEnv), after
	// TMPDIR=Host.Tmp: e.g. PATH=DIR:/usr/bin:/bin to put a stakeout in the
	// remote PATH without installing anything.
	Env map[string]string
}

var sshSeq atomic.Int32

// SSHHosts makes n hosts reachable over ssh: a bridge in the test's
// network namespace with address .1 of a free 10.213-248.X.0/24, and n
// network namespaces joined to it by veth pairs, each running its own
// sshd (`ip netns exec NS /usr/sbin/sshd -f CFG -D -e`, host key, user key
// and config in a temp dir, root logs in by key only). Every name carries
// the test's pid. Cleanup kills every process left in the namespaces and
// removes the namespaces, the bridge and the files. No system sshd or
// ~/.ssh is touched. It skips where it can't run (not root, no sshd).
func SSHHosts(t testing.TB, n int) SSHNet { return SSHHostsWith(t, n, SSHOptions{}) }

// SSHHostsWith is SSHHosts with options.
func SSHHostsWith(t testing.TB, n int, o SSHOptions) SSHNet {
	t.Helper()
	NeedRoot(t, "to make network namespaces and run sshd")
	for _, tool := range []string{"ip", "ssh", "ssh-keygen", "/usr/sbin/sshd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make test installs openssh-client, openssh-server and iproute2)", tool)
		}
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation directory
		t.Skipf("no /run/sshd for sshd: %v", err)
	}
	sweepStale()
	dir := t.TempDir()
	tag := fmt.Sprintf("%d%c", os.Getpid(), 'a'+rune(sshSeq.Add(1)%26))
	sn := &sshNet{t: t, dir: dir, tag: tag}
	t.Cleanup(sn.cleanup)
	sn.keygen(filepath.Join(dir, "id_ed25519"))
	subnet := sn.makeBridge()
	var out SSHNet
	for i := 1; i <= n; i++ {
		h := SSHHost{Alias: fmt.Sprintf("h%d", i), NS: fmt.Sprintf("stk-ssh-%s-h%d", tag, i), Addr: fmt.Sprintf("%s.%d", subnet, i+1),
			Tmp: filepath.Join(dir, fmt.Sprintf("tmp-h%d", i))}
		if err := os.Mkdir(h.Tmp, 0o1777); err != nil {
			t.Fatal(err)
		}
		sn.host(i, h, o)
		out.Hosts = append(out.Hosts, h)
	}
	out.SSH = "ssh -F " + sn.clientConfig(out.Hosts)
	for _, h := range out.Hosts {
		Eventually(t, 15*time.Second, "sshd listens on "+h.Addr, func() bool {
			c, err := net.DialTimeout("tcp", h.Addr+":22", time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	return out
}

type sshNet struct {
	t      testing.TB
	dir    string
	tag    string
	bridge string
	nss    []string
	mu     sync.Mutex
	sshds  []*exec.Cmd
	logs   []*bytes.Buffer
}

func (sn *sshNet) run(args ...string) {
	sn.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		sn.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

func (sn *sshNet) keygen(path string) {
	sn.t.Helper()
	sn.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stakeout-test-"+sn.tag, "-f", path)
}

// makeBridge makes the bridge with .1 of a /24 no route uses yet, and returns
// the /24's first three octets.
func (sn *sshNet) makeBridge() string {
	sn.t.Helper()
	sn.bridge = "sb" + sn.tag
	sn.run("ip", "link", "add", sn.bridge, "type", "bridge")
	sn.run("ip", "link", "set", sn.bridge, "up")
	// Two test processes (go test runs packages in parallel) must not
	// both take a /24 they each saw free: choose and take it under a
	// lock every SSHHosts shares, looking at addresses, which a bridge
	// with no port yet has, not only routes.
	unlock := lockFile(sn.t, "/run/stakeout-test-sshhosts.lock")
	defer unlock()
	routes, _ := exec.Command("ip", "-4", "route", "show").Output()
	addrs, _ := exec.Command("ip", "-4", "addr", "show").Output()
	routes = append(routes, addrs...)
	start := os.Getpid() + int(sshSeq.Load())
	for k := range 36 * 256 {
		v := (start + k) % (36 * 256)
		subnet := fmt.Sprintf("10.%d.%d", 213+v/256, v%256)
		if bytes.Contains(routes, []byte(subnet+".")) {
			continue
		}
		out, err := exec.Command("ip", "addr", "add", subnet+".1/24", "dev", sn.bridge).CombinedOutput()
		if err == nil {
			return subnet
		}
		sn.t.Logf("ip addr add %s.1/24: %v: %s", subnet, err, out)
	}
	sn.t.Fatal("no free 10.213-248.X.0/24 for the ssh test bridge")
	return ""
}

// host makes namespace h.NS, joins it to the bridge and starts its sshd.
func (sn *sshNet) host(i int, h SSHHost, o SSHOptions) {
	sn.t.Helper()
	sn.run("ip", "netns", "add", h.NS)
	sn.nss = append(sn.nss, h.NS)
	out, in := fmt.Sprintf("sv%sh%d", sn.tag, i), fmt.Sprintf("sn%sh%d", sn.tag, i)
	sn.run("ip", "link", "add", out, "type", "veth", "peer", "name", in, "netns", h.NS)
	sn.run("ip", "link", "set", out, "master", sn.bridge, "up")
	sn.run("ip", "-n", h.NS, "link", "set", "lo", "up")
	sn.run("ip", "-n", h.NS, "addr", "add", h.Addr+"/24", "dev", in)
	sn.run("ip", "-n", h.NS, "link", "set", in, "up")

	hdir := filepath.Join(sn.dir, h.Alias)
	if err := os.Mkdir(hdir, 0o700); err != nil {
		sn.t.Fatal(err)
	}
	sn.keygen(filepath.Join(hdir, "host_key"))
	pub, err := os.ReadFile(filepath.Join(sn.dir, "id_ed25519.pub"))
	if err != nil {
		sn.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hdir, "authorized_keys"), pub, 0o600); err != nil {
		sn.t.Fatal(err)
	}
	env := []string{"TMPDIR=" + h.Tmp}
	keys := make([]string, 0, len(o.Env))
	for k := range o.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+o.Env[k])
	}
	cfg := filepath.Join(hdir, "sshd_config")
	conf := strings.Join([]string{
		"ListenAddress " + h.Addr + ":22",
		"HostKey " + filepath.Join(hdir, "host_key"),
		"PidFile " + filepath.Join(hdir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(hdir, "authorized_keys"),
		"UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password",
		"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
		"X11Forwarding no", "AllowTcpForwarding no", "AllowAgentForwarding no", "PrintMotd no", "PrintLastLog no",
		"LogLevel ERROR",
		"SetEnv " + strings.Join(env, " "),
	}, "\n") + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		sn.t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", h.NS, "/usr/sbin/sshd", "-f", cfg, "-D", "-e")
	cmd.SysProcAttr = dieWithTest() // a test binary killed mid-test takes its sshds along
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		sn.t.Fatalf("starting sshd in %s: %v", h.NS, err)
	}
	sn.mu.Lock()
	sn.sshds = append(sn.sshds, cmd)
	sn.logs = append(sn.logs, &log)
	sn.mu.Unlock()
}

// clientConfig writes the ssh client config: one Host alias per host,
// the test's key, and known_hosts with exactly the hosts' keys.
func (sn *sshNet) clientConfig(hosts []SSHHost) string {
	sn.t.Helper()
	var known, conf strings.Builder
	for _, h := range hosts {
		pub, err := os.ReadFile(filepath.Join(sn.dir, h.Alias, "host_key.pub"))
		if err != nil {
			sn.t.Fatal(err)
		}
		f := strings.Fields(string(pub))
		fmt.Fprintf(&known, "%s %s %s\n", h.Addr, f[0], f[1])
		fmt.Fprintf(&conf, "Host %s\n  HostName %s\n", h.Alias, h.Addr)
	}
	kh := filepath.Join(sn.dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(known.String()), 0o600); err != nil {
		sn.t.Fatal(err)
	}
	fmt.Fprintf(&conf, "Host *\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n  IdentityAgent none\n"+
		"  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n"+
		"  ControlMaster no\n  ControlPath none\n  LogLevel ERROR\n", filepath.Join(sn.dir, "id_ed25519"), kh)
	path := filepath.Join(sn.dir, "ssh_config")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		sn.t.Fatal(err)
	}
	return path
}

// cleanup kills every process in the namespaces (the sshds, their
// sessions, anything a session left), then removes the namespaces and
// the bridge. sshd's log is shown if the test failed.
func (sn *sshNet) cleanup() {
	for _, ns := range sn.nss {
		for _, pid := range NetnsPids(ns) {
			// The test process itself is listed when a thread of its
			// (one that entered a namespace and was not given back)
			// is the main thread: never kill the test.
			if pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	sn.mu.Lock()
	for i, cmd := range sn.sshds {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if sn.t.Failed() && sn.logs[i].Len() > 0 {
			sn.t.Logf("sshd in %s said:\n%s", sn.nss[i], sn.logs[i])
		}
	}
	sn.mu.Unlock()
	for _, ns := range sn.nss {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			sn.t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
	if sn.bridge != "" {
		_ = exec.Command("ip", "link", "del", sn.bridge).Run()
	}
}

// staleNS and staleBridge match what SSHHosts names: stk-ssh-PIDx-hN and
// sbPIDx.
var (
	staleNS     = regexp.MustCompile(`^stk-ssh-(([0-9]+)[a-z])-h[0-9]+$`)
	staleBridge = regexp.MustCompile(`^sb([0-9]+)([a-z])$`)
)

// sweepStale removes what an earlier test process left when it was killed
// before its cleanup ran (a go test timeout): its namespaces, once empty
// (its sshds died with it), and then its bridge. Anything whose test
// process still runs, a namespace with a process in it and its bridge are
// left alone.
func sweepStale() {
	gone := func(pid string) bool {
		_, err := os.Stat("/proc/" + pid)
		return os.IsNotExist(err)
	}
	kept := map[string]bool{} // tags with a namespace left: their bridge stays too
	list, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(list), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := staleNS.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		if gone(m[2]) && len(NetnsPids(f[0])) == 0 {
			_ = exec.Command("ip", "netns", "del", f[0]).Run()
		} else {
			kept[m[1]] = true
		}
	}
	links, _ := exec.Command("ip", "-o", "link", "show", "type", "bridge").Output()
	for _, line := range strings.Split(string(links), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if m := staleBridge.FindStringSubmatch(name); m != nil && gone(m[1]) && !kept[m[1]+m[2]] {
			_ = exec.Command("ip", "link", "del", name).Run()
		}
	}
}

// NetnsPids lists the processes in network namespace ns (`ip netns pids`);
// none when it is gone.
func NetnsPids(ns string) []int {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}
