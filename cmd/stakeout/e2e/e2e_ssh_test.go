//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/remote"
	"github.com/stakeout/stakeout/internal/sigtarget"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
)

// The end-to-end tests of --ssh: real sshds in network namespaces
// (testenv.SSHHosts), this build's stakeout on both ends. The pid
// namespace is shared, so a test sees the remote processes in /proc.

// streamsIn lists the `stakeout stream` processes in namespace ns, with
// what /proc/PID/exe says for each.
func streamsIn(ns string) map[int]string {
	out := map[int]string{}
	for _, pid := range testenv.NetnsPids(ns) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 1 && filepath.Base(args[0]) == "stakeout" && args[1] == "stream" {
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			out[pid] = exe
		}
	}
	return out
}

// leftIn lists the files in a host's TMPDIR.
func leftIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// noStreamsLeft waits until no host runs a stream and no copy is left
// (a boot cut short removes its partial copy when its stdin ends).
func noStreamsLeft(t *testing.T, hosts []testenv.SSHHost) {
	t.Helper()
	for _, h := range hosts {
		testenv.Eventually(t, 20*time.Second, "no stakeout stream left on "+h.Alias, func() bool { return len(streamsIn(h.NS)) == 0 })
		testenv.Eventually(t, 20*time.Second, "nothing left in "+h.Alias+"'s TMPDIR", func() bool { return len(leftIn(t, h.Tmp)) == 0 })
	}
}

// streamRunning waits until host h runs a stream, and returns what its
// /proc/PID/exe says once settled: a copy is unlinked as it starts, so
// with unlinked it waits for that.
func streamRunning(t *testing.T, h testenv.SSHHost, unlinked bool) string {
	t.Helper()
	var exe string
	testenv.Eventually(t, 60*time.Second, "a stream on "+h.Alias, func() bool {
		for _, e := range streamsIn(h.NS) {
			exe = e
			return !unlinked || strings.HasSuffix(e, " (deleted)")
		}
		return false
	})
	return exe
}

// byHost groups a recording's events by host.
func byHost(evs []event.Event) map[string][]event.Event {
	out := map[string][]event.Event{}
	for _, ev := range evs {
		out[ev.Host] = append(out[ev.Host], ev)
	}
	return out
}

func ofKind(evs []event.Event, kind string) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// Three hosts over ssh beside the local one: every host's events come
// labelled with it, each has host_facts and a clock; h2's clock is 3 s off
// (the stream's test skew) and is estimated within 50 ms, its events put
// back on the local timeline; the binary was copied (this build is "dev")
// and each copy was gone while it ran and after.
func TestSSHSnapshotThreeHosts(t *testing.T) {
	share(t, alone, afterOthers)
	// Not beside the others: its clock estimate is held to 50 ms, and
	// four sessions at once on two cores stretch the round trips.
	sn := testenv.SSHHosts(t, 3)
	out := filepath.Join(t.TempDir(), "multi.stk")
	snap := exec.Command(binPath, "snapshot", "--ssh", "h1", "--ssh", "h2", "--ssh", "h3", "--duration", "8s",
		"--probes", "iostat", "--format", "json", "-o", out)
	snap.Env = append(os.Environ(), remote.EnvSSH+"="+sn.SSH, remote.EnvTestClockSkew+"=h2=3s")
	var stdout, stderr bytes.Buffer
	snap.Stdout, snap.Stderr = &stdout, &stderr
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	exes := map[string]string{}
	for _, h := range sn.Hosts {
		exes[h.Alias] = streamRunning(t, h, true)
	}
	if err := snap.Wait(); err != nil {
		t.Fatalf("snapshot: %v: %s", err, stderr.String())
	}
	for alias, exe := range exes {
		h := sn.Hosts[alias[1]-'1']
		if !strings.HasPrefix(exe, h.Tmp+"/stakeout.") || !strings.HasSuffix(exe, " (deleted)") {
			t.Errorf("%s ran %q, want a copy in %s, already unlinked", alias, exe, h.Tmp)
		}
	}
	noStreamsLeft(t, sn.Hosts)

	hdr, evs := readEvents(t, out)
	if host, _ := os.Hostname(); hdr.Hostname != host {
		t.Errorf("the header is %q's, want the local host's %q", hdr.Hostname, host)
	}
	hosts := byHost(evs)
	clocks := map[string]schema.Clock{}
	for _, alias := range []string{"", "h1", "h2", "h3"} {
		if n := len(ofKind(hosts[alias], "io")); n < 3 {
			t.Errorf("host %q: %d iostat samples in 8 s", alias, n)
		}
		if alias == "" {
			continue
		}
		facts := ofKind(hosts[alias], schema.KindHostFacts)
		if len(facts) != 1 {
			t.Fatalf("%s: %d host_facts", alias, len(facts))
		}
		f, _ := event.As[schema.HostFacts](facts[0])
		if f.Host != alias || f.Target != alias || f.Hostname == "" || f.Kernel == "" {
			t.Errorf("%s: host_facts %+v", alias, f)
		}
		cl := ofKind(hosts[alias], schema.KindClock)
		if len(cl) != 1 {
			t.Fatalf("%s: %d clock events", alias, len(cl))
		}
		c, _ := event.As[schema.Clock](cl[0])
		clocks[alias] = *c
	}
	for alias, want := range map[string]time.Duration{"h1": 0, "h2": 3 * time.Second, "h3": 0} {
		if d := clocks[alias].Offset - want; d < -50*time.Millisecond || d > 50*time.Millisecond {
			t.Errorf("%s: offset %v, want %v ± 50ms (%+v)", alias, clocks[alias].Offset, want, clocks[alias])
		}
	}
	sameMoment(t, hosts["h1"], hosts["h2"], clocks["h2"].Offset)
	if len(ofKind(evs, schema.KindStreamPong)) != 0 {
		t.Error("pongs were recorded")
	}
	if !bytes.Contains(stdout.Bytes(), []byte(`"findings"`)) {
		t.Errorf("no JSON report on stdout: %.200s", stdout.String())
	}
}

// sameMoment checks h2's corrected times against h1's: both sample on
// whole seconds of their own clocks, so once h2's are moved back by its
// offset each of its samples has one of h1's close by, where uncorrected
// they would be 3 s apart.
func sameMoment(t *testing.T, h1, h2 []event.Event, off time.Duration) {
	t.Helper()
	var h1t []time.Time
	for _, ev := range ofKind(h1, "io") {
		h1t = append(h1t, ev.Time)
	}
	if len(h1t) < 3 {
		t.Fatalf("h1 has %d samples", len(h1t))
	}
	// Only h2's samples while h1 was sampling can have a partner: the two
	// streams start and stop at moments of their own, so a sample of h2's
	// before h1's first or after h1's last has none (a run here once had
	// one at each end, "7 of 9").
	first, last := h1t[0].Add(-500*time.Millisecond), h1t[len(h1t)-1].Add(500*time.Millisecond)
	matched, n := 0, 0
	for _, ev := range ofKind(h2, "io") {
		if ev.HostTime.IsZero() || ev.HostTime.Sub(ev.Time) != off {
			t.Fatalf("h2 sample: time %v host_time %v, want host_time = time + %v", ev.Time, ev.HostTime, off)
		}
		if ev.Time.Before(first) || ev.Time.After(last) {
			continue
		}
		n++
		if slices.ContainsFunc(h1t, func(t1 time.Time) bool {
			d := ev.Time.Sub(t1)
			return d > -250*time.Millisecond && d < 250*time.Millisecond
		}) {
			matched++
		}
	}
	if n < 3 || matched < n-1 {
		t.Errorf("only %d of h2's %d samples during h1's are within 250 ms of one of h1's", matched, n)
	}
}

// A stakeout of this version in the host's PATH runs as it is: nothing is
// copied.
func TestSSHInstalledStakeoutRuns(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "network namespaces and sshd")
	bin := t.TempDir()
	exe := filepath.Join(bin, "stakeout")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=e2e-ssh-installed", "-o", exe, "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	sn := testenv.SSHHostsWith(t, 1, testenv.SSHOptions{Env: map[string]string{"PATH": bin + ":/usr/bin:/bin"}})
	h := sn.Hosts[0]
	snap := exec.Command(exe, "snapshot", "--ssh", h.Alias, "--no-local", "--duration", "3s", "--probes", "iostat", "--no-record")
	snap.Env = append(os.Environ(), remote.EnvSSH+"="+sn.SSH)
	var stderr bytes.Buffer
	snap.Stderr = &stderr
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	ran := streamRunning(t, h, false)
	if err := snap.Wait(); err != nil {
		t.Fatalf("snapshot: %v: %s", err, stderr.String())
	}
	if ran != exe {
		t.Errorf("h1 ran %q, want the installed %s", ran, exe)
	}
	if _, err := os.Stat(exe); err != nil {
		t.Errorf("the installed stakeout is gone: %v", err)
	}
	noStreamsLeft(t, sn.Hosts)
}

// A copy damaged on its way (the test hook flips a byte) is not run: one
// line says so, and nothing is left on the host.
func TestSSHDamagedCopyIsRefused(t *testing.T) {
	share(t)
	sn := testenv.SSHHosts(t, 1)
	r := run(t, []string{remote.EnvSSH + "=" + sn.SSH, remote.EnvTestCorruptCopy + "=h1"},
		"snapshot", "--ssh", "h1", "--no-local", "--duration", "2s", "--no-record")
	oneLineError(t, r, exitError, "--ssh h1: the copy of stakeout arrived damaged")
	noStreamsLeft(t, sn.Hosts)
}

// kill -9 of the local stakeout: ssh dies with it (its parent-death
// signal), the remote streams see their stdin end and stop, the process
// one of them traced (started in h1's namespace) is detached and runs on,
// and nothing is left.
func TestSSHKill9LeavesNoRemoteStakeout(t *testing.T) {
	share(t)
	sn := testenv.SSHHosts(t, 2)
	h1 := sn.Hosts[0]
	target := exec.Command("ip", "netns", "exec", h1.NS, os.Args[0])
	target.Env = sigtarget.Environ("count")
	tout, _ := target.StdoutPipe()
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Process.Kill(); target.Wait() })
	tg := &sigTarget{pid: target.Process.Pid, lines: bufio.NewScanner(tout)}
	tg.expect(t, "ready")

	snap := exec.Command(binPath, "snapshot", "--ssh", "h1", "--ssh", "h2", "--no-local", "--duration", "2m",
		"--probes", "signals", "--pid", strconv.Itoa(tg.pid), "--no-record")
	snap.Env = append(os.Environ(), remote.EnvSSH+"="+sn.SSH)
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	for _, h := range sn.Hosts {
		streamRunning(t, h, true)
	}
	var tracer int
	testenv.Eventually(t, 30*time.Second, "a stream traces the target", func() bool {
		n, _ := traced(tg.pid)
		tracer = n
		return n > 0
	})
	// Both hosts share this machine's pid namespace, so both streams try
	// the same --pid and the first one to connect traces it.
	tracerProc := tgidOf(tracer) // TracerPid is the tracing thread's id
	_, on1 := streamsIn(h1.NS)[tracerProc]
	_, on2 := streamsIn(sn.Hosts[1].NS)[tracerProc]
	if !on1 && !on2 {
		t.Fatalf("the target's tracer %d (process %d) is no host's stream", tracer, tracerProc)
	}
	clients := []int{sshClientOf(t, snap.Process.Pid, "h1"), sshClientOf(t, snap.Process.Pid, "h2")}
	snap.Process.Kill()
	snap.Wait()
	for _, c := range clients {
		testenv.Eventually(t, 10*time.Second, "ssh client "+strconv.Itoa(c)+" gone", func() bool {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c))
			return err != nil || bytes.Contains(stat, []byte(") Z "))
		})
	}
	noStreamsLeft(t, sn.Hosts)
	testenv.Eventually(t, 5*time.Second, "the target untraced and running", func() bool { n, st := traced(tg.pid); return n == 0 && st != 't' && st != 'T' })
	syscall.Kill(tg.pid, syscall.SIGHUP)
	tg.expect(t, "HUP 1")
}

// kill -9 of the local stakeout while its binary is on its way: the
// remote boot script's stdin ends, and it removes the partial copy.
func TestSSHKill9DuringTheCopyLeavesNothing(t *testing.T) {
	share(t)
	sn := testenv.SSHHosts(t, 1)
	h := sn.Hosts[0]
	snap := exec.Command(binPath, "snapshot", "--ssh", "h1", "--no-local", "--duration", "1m", "--probes", "iostat", "--no-record")
	snap.Env = append(os.Environ(), remote.EnvSSH+"="+sn.SSH)
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the copy arriving in "+h.Tmp, func() bool { return len(leftIn(t, h.Tmp)) > 0 })
	snap.Process.Kill()
	snap.Wait()
	noStreamsLeft(t, sn.Hosts)
}

// Killing the ssh client mid-session: host.lost with ssh's reason, a
// reconnect, host.back with host.lost cleared, and the host's events go
// on; the session was never interrupted.
func TestSSHLostThenBack(t *testing.T) {
	share(t, timing, long)
	sn := testenv.SSHHosts(t, 2)
	out := filepath.Join(t.TempDir(), "lost.stk")
	snap := exec.Command(binPath, "snapshot", "--ssh", "h1", "--ssh", "h2", "--duration", "16s",
		"--probes", "iostat", "--format", "json", "-o", out)
	snap.Env = append(os.Environ(), remote.EnvSSH+"="+sn.SSH)
	var stderr bytes.Buffer
	snap.Stderr = &stderr
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	streamRunning(t, sn.Hosts[0], true)
	first := streamsIn(sn.Hosts[0].NS)
	time.Sleep(2 * time.Second) // some samples before the cut
	client := sshClientOf(t, snap.Process.Pid, "h1")
	killedAt := time.Now()
	if err := syscall.Kill(client, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "a new stream on h1", func() bool {
		for pid := range streamsIn(sn.Hosts[0].NS) {
			if _, old := first[pid]; !old {
				return true
			}
		}
		return false
	})
	if err := snap.Wait(); err != nil {
		t.Fatalf("snapshot: %v: %s", err, stderr.String())
	}
	noStreamsLeft(t, sn.Hosts)
	_, evs := readEvents(t, out)
	var lost, back []*event.Finding
	var backAt time.Time
	for _, ev := range ofKind(evs, event.KindFinding) {
		f, _ := event.As[event.Finding](ev)
		switch f.Finding {
		case schema.FindingHostLost:
			lost = append(lost, f)
			if ev.Host != "h1" {
				t.Errorf("host.lost on host %q", ev.Host)
			}
		case schema.FindingHostBack:
			back, backAt = append(back, f), ev.Time
		}
	}
	if len(lost) != 2 || lost[0].State != "" || lost[1].State != event.FindingCleared {
		t.Fatalf("host.lost findings %+v, want raised then cleared", lost)
	}
	d, _ := lost[0].Data.(schema.HostLostData)
	t.Logf("host.lost: %s", lost[0].Summary)
	if d.Host != "h1" || d.Error == "" || lost[0].Severity != event.Warn {
		t.Errorf("host.lost %+v data %+v", lost[0], d)
	}
	if len(back) != 1 {
		t.Fatalf("%d host.back", len(back))
	}
	if bd, _ := back[0].Data.(schema.HostLostData); bd.Down <= 0 || bd.Down > 15*time.Second {
		t.Errorf("host.back down %v", bd.Down)
	}
	after := 0
	for _, ev := range ofKind(byHost(evs)["h1"], "io") {
		if ev.Time.After(backAt) {
			after++
		}
	}
	if after == 0 || backAt.Before(killedAt) {
		t.Errorf("%d h1 samples after host.back at %v (killed at %v)", after, backAt, killedAt)
	}
	if len(ofKind(byHost(evs)["h1"], schema.KindHostFacts)) != 2 {
		t.Error("want host_facts at each of h1's two connects")
	}
}

// tgidOf is the process a thread belongs to.
func tgidOf(tid int) int {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "Tgid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// sshClientOf finds the ssh child of pid that connects to alias.
func sshClientOf(t *testing.T, pid int, alias string) int {
	t.Helper()
	var found int
	testenv.Eventually(t, 10*time.Second, "the ssh client to "+alias, func() bool {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
			i := bytes.LastIndexByte(stat, ')')
			if i < 0 {
				continue
			}
			f := strings.Fields(string(stat[i+1:]))
			if len(f) < 2 || f[1] != strconv.Itoa(pid) {
				continue
			}
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
			args := strings.Split(string(cmdline), "\x00")
			if filepath.Base(args[0]) == "ssh" && slices.Contains(args, alias) {
				found = p
				return true
			}
		}
		return false
	})
	return found
}
