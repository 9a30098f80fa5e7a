//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/internal/remote"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/sessions"
)

// The VRRP incident across three routers (issue 17): r1 sends adverts to
// 224.0.0.18, r2 and r3 receive them over one LAN. When an advert goes
// missing, the gap each receiver sees must say whether r1 sent it.

// vrrpLAN is three router namespaces whose veths meet on a bridge in a
// fourth namespace, 10.232.N.1-3/24, IPv6 off. Nothing of it is in the
// test's own namespace. Everything is removed when the test ends.
type vrrpLAN struct {
	routers [3]string // namespaces r1, r2, r3
	ifaces  [3]string // each router's interface on the LAN
	ports   [3]string // the bridge's port to each, in bridge
	bridge  string    // the bridge's namespace
	addrs   [3][4]byte
}

func newVRRPLAN(t *testing.T, n int) vrrpLAN {
	t.Helper()
	testenv.NeedRoot(t, "to make network namespaces")
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not installed (make test installs iproute2)")
	}
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, n)
	l := vrrpLAN{bridge: "stk-xbr" + id}
	var made []string
	t.Cleanup(func() {
		for _, ns := range made {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Skipf("%s: %v %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	sh("ip", "netns", "add", l.bridge)
	made = append(made, l.bridge)
	sh("ip", "-n", l.bridge, "link", "add", "br0", "type", "bridge")
	sh("ip", "-n", l.bridge, "link", "set", "br0", "up")
	for i := range l.routers {
		l.routers[i] = fmt.Sprintf("stk-xr%d-%s", i+1, id)
		l.ifaces[i] = fmt.Sprintf("stkx%sr%d", id, i+1)
		l.ports[i] = fmt.Sprintf("stkx%sp%d", id, i+1)
		l.addrs[i] = [4]byte{10, 232, byte(n), byte(i + 1)}
		sh("ip", "netns", "add", l.routers[i])
		made = append(made, l.routers[i])
		sh("ip", "netns", "exec", l.routers[i], "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		sh("ip", "link", "add", l.ifaces[i], "netns", l.routers[i], "type", "veth", "peer", "name", l.ports[i], "netns", l.bridge)
		sh("ip", "-n", l.bridge, "link", "set", l.ports[i], "master", "br0", "up")
		sh("ip", "-n", l.routers[i], "addr", "add", fmt.Sprintf("10.232.%d.%d/24", n, i+1), "dev", l.ifaces[i])
		sh("ip", "-n", l.routers[i], "link", "set", l.ifaces[i], "up")
	}
	return l
}

// advertiser is r1's VRRP sender: a raw IP socket (protocol 112) in r1's
// namespace sending to 224.0.0.18 with TTL 255, as keepalived does. The
// socket is made on a thread that goes back to the test's namespace
// afterwards: a thread left in r1's namespace could be the process's main
// thread (the runtime keeps that one rather than end it), and a cleanup
// that kills every process in the namespace would kill the test.
func advertiser(t *testing.T, ns string, from [4]byte) int {
	t.Helper()
	fd := -1
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer home.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		fd, err = vrrpSocket(from)
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // back home: the thread may serve others again
		} // else it stays locked, and ends with this goroutine
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("VRRP socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func vrrpSocket(from [4]byte) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, 112)
	if err != nil {
		return -1, fmt.Errorf("raw socket: %w", err)
	}
	if err := unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, from); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("IP_MULTICAST_IF: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 255); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("IP_MULTICAST_TTL: %w", err)
	}
	return fd, nil
}

// advertise sends an advert at each offset from start, calling at(i)
// just before the i-th; it returns when the last is sent, or once stop
// (if not nil) is closed.
func advertise(t *testing.T, fd int, start time.Time, offsets []time.Duration, stop <-chan struct{}, at func(i int)) {
	t.Helper()
	advert := []byte{0x21, 51, 100, 1, 0, 1, 0, 0, 192, 168, 51, 7} // VRRPv2: vrid 51, prio 100, one VIP
	for i, off := range offsets {
		select {
		case <-time.After(time.Until(start.Add(off))):
		case <-stop:
			return
		}
		if at != nil {
			at(i)
		}
		if err := unix.Sendto(fd, advert, 0, &unix.SockaddrInet4{Addr: [4]byte{224, 0, 0, 18}}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

// vrrpRun sends the adverts at their seconds from start; over the span
// drop (none if empty) drop() makes the network drop them toward one
// receiver until the function it returns is called. It returns how many
// adverts were sent while they were dropped.
func vrrpRun(t *testing.T, fd int, start time.Time, adverts []float64, span [2]float64, stop <-chan struct{}, drop func() (undo func())) int {
	t.Helper()
	var mu sync.Mutex
	dropping, dropped := false, 0
	var wg sync.WaitGroup
	if span[0] != span[1] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(start.Add(seconds(span[0])[0])))
			undo := drop()
			mu.Lock()
			dropping = true
			mu.Unlock()
			time.Sleep(time.Until(start.Add(seconds(span[1])[0])))
			mu.Lock()
			dropping = false
			mu.Unlock()
			undo()
		}()
	}
	advertise(t, fd, start, seconds(adverts...), stop, func(int) {
		mu.Lock()
		if dropping {
			dropped++
		}
		mu.Unlock()
	})
	wg.Wait()
	t.Logf("%d adverts sent, %d of them while dropped toward one receiver", len(adverts), dropped)
	return dropped
}

// seconds are offsets of whole and fractional seconds.
func seconds(ss ...float64) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

// dropToward makes the bridge drop VRRP on its way to one port (nftables'
// bridge family, in the bridge's namespace ns, "" the test's own, in a
// table of the test's own): the adverts are sent, and never reach that
// router. It returns the function that lets them pass.
func dropToward(t *testing.T, ns, port string) (undo func()) {
	t.Helper()
	table := fmt.Sprintf("stkdrop%d%s", os.Getpid(), port)
	nft := func(args ...string) error {
		cmd := exec.Command("nft", args...)
		if ns != "" {
			cmd = exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("nft %s: %v %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, args := range [][]string{
		{"add", "table", "bridge", table},
		{"add", "chain", "bridge", table, "toward", "{ type filter hook forward priority 0; }"},
		{"add", "rule", "bridge", table, "toward", "oifname", port, "ip", "protocol", "112", "drop"},
	} {
		if err := nft(args...); err != nil {
			t.Error(err)
		}
	}
	var once sync.Once
	undo = func() {
		once.Do(func() {
			if err := nft("delete", "table", "bridge", table); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(undo)
	return undo
}

// fleetEvents reads recordings made on separate hosts as one timeline, as
// `stakeout merge` does: each file's events named with its host, merged
// by time with each file's own order kept, and the findings recorded in
// them dropped (they are recomputed).
func fleetEvents(t *testing.T, hosts []string, files []string) []event.Event {
	t.Helper()
	recomputed := findings.Recomputed(findings.All(findings.Config{}))
	streams := make([][]event.Event, len(files))
	for i, file := range files {
		r, err := sessions.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		it := r.Iter(time.Time{})
		for {
			ev, ok := it.Next()
			if !ok {
				break
			}
			if f, isF := event.As[event.Finding](ev); isF && recomputed[f.Finding] {
				continue
			}
			ev.Host = hosts[i]
			streams[i] = append(streams[i], ev)
		}
		if err := it.Err(); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		r.Close()
	}
	var out []event.Event
	for {
		best := -1
		for i, s := range streams {
			if len(s) > 0 && (best < 0 || s[0].Time.Before(streams[best][0].Time)) {
				best = i
			}
		}
		if best < 0 {
			return out
		}
		out = append(out, streams[best][0])
		streams[best] = streams[best][1:]
	}
}

// hostGap is one host's packet.gap condition: its events, and the last.
type hostGap struct {
	raised int
	last   *event.Finding
	data   findings.PacketGapData
}

// gapsByHost folds the packet.gap events of a run by host.
func gapsByHost(t *testing.T, evs []event.Event) map[string]*hostGap {
	t.Helper()
	out := map[string]*hostGap{}
	for _, ev := range evs {
		f, ok := event.As[event.Finding](ev)
		if !ok || f.Finding != findings.FindingPacketGap {
			continue
		}
		t.Logf("%s %-3s %-7s %-8s %s", ev.Time.Format("15:04:05.000"), ev.Host, f.State, f.Severity, f.Summary)
		g := out[ev.Host]
		if g == nil {
			g = &hostGap{}
			out[ev.Host] = g
		}
		if f.State == "" {
			g.raised++
		}
		g.last, g.data = f, f.Data.(findings.PacketGapData)
	}
	return out
}

// TestVRRPAcrossHostsFromRecordings is the fleet path of issue 17's VRRP
// test: stakeout snapshot runs in each of three router namespaces on one
// LAN, each writing its own recording, and the three are read as one
// timeline: by the detectors over the files' events merged here, and by
// `stakeout report` given the three files. First r1 stops advertising for 3.5 s: each receiver has
// exactly one packet.gap, and it says r1 sent nothing. Then r1 advertises
// every second but the bridge drops three adverts on their way to r2:
// r2's one gap says r1 sent 3 packets r2 never received, and r3, which got
// them, has none.
func TestVRRPAcrossHostsFromRecordings(t *testing.T) {
	share(t, timing, quiet)
	hosts := []string{"r1", "r2", "r3"}
	for n, tc := range []struct {
		name    string
		adverts []float64
		drop    [2]float64 // the bridge drops r2's adverts over this span of seconds (none if equal)
	}{
		{name: "not sent", adverts: append(upToSec(15), 18.5, 19.5, 20.5, 21.5, 22.5)},
		{name: "sent, not received", adverts: upToSec(22), drop: [2]float64{15.5, 18.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lan := newVRRPLAN(t, 10+n)
			fd := advertiser(t, lan.routers[0], lan.addrs[0])
			var files []string
			var snaps []*exec.Cmd
			var outs []*strings.Builder
			for i := range lan.routers {
				cmd, out, file := snapshotFileIn(t, lan.routers[i], lan.ifaces[i], 25*time.Second, "--filter", "vrrp")
				snaps, outs, files = append(snaps, cmd), append(outs, out), append(files, file)
			}
			start := time.Now().Add(1500 * time.Millisecond) // let the captures start
			dropped := vrrpRun(t, fd, start, tc.adverts, tc.drop, nil, func() func() { return dropToward(t, lan.bridge, lan.ports[1]) })
			for i := range snaps {
				waitDoc(t, snaps[i], outs[i])
			}
			evs := fleetEvents(t, hosts, files)
			// r1's capture saw its adverts leave, the others' come in.
			for _, ev := range evs {
				if fi, ok := event.As[packet.FlowInfo](ev); ok && fi.Proto == "vrrp" && fi.Out != (ev.Host == "r1") {
					t.Errorf("%s: flow %s announced with out %v", ev.Host, fi, fi.Out)
				}
			}
			checkVRRPGaps(t, gapsByHost(t, findings.Run(findings.All(findings.Config{}), evs)), hosts, dropped)

			// The same through `stakeout report r1.stk r2.stk r3.stk`: the
			// files share a hostname, so each host is named with its file.
			dir := t.TempDir()
			args := []string{"report", "--format", "json"}
			hostname, _ := os.Hostname()
			var named []string
			for i, f := range files {
				to := filepath.Join(dir, hosts[i]+".stk")
				if err := os.Rename(f, to); err != nil {
					t.Fatal(err)
				}
				args = append(args, to)
				named = append(named, fmt.Sprintf("%s (%s.stk)", hostname, hosts[i]))
			}
			r := run(t, nil, args...)
			if r.code != 0 {
				t.Fatalf("report: exit %d: %s", r.code, r.stderr)
			}
			checkVRRPGaps(t, reportGaps(t, r.stdout), named, dropped)
		})
	}
}

// checkVRRPGaps checks the gaps of a VRRP run: hosts[0] sent, the others
// received. With nothing dropped, the sender stopped: each receiver has
// exactly one gap, saying the sender sent nothing, and the sender one with
// no note (its own adverts stopped). With dropped adverts (toward
// hosts[1] only), hosts[1] has exactly one gap, saying the sender sent
// them and it never received them, and no other host has any.
func checkVRRPGaps(t *testing.T, gaps map[string]*hostGap, hosts []string, dropped int) {
	t.Helper()
	r1, r2 := hosts[0], hosts[1]
	expect := map[string]*findings.GapSender{r1: nil} // r1's own adverts stopped: a gap with no note
	says := map[string]string{}
	for _, h := range hosts[1:] {
		expect[h] = &findings.GapSender{Host: r1, Verdict: findings.GapNotSent}
		says[h] = r1 + " sent nothing during the gap"
	}
	if dropped > 0 {
		expect = map[string]*findings.GapSender{r2: {Host: r1, Sent: dropped, Verdict: findings.GapSentNotRecvd}}
		says = map[string]string{r2: fmt.Sprintf("%s sent %d packets during the gap that %s never received", r1, dropped, r2)}
	}
	for h := range gaps {
		if _, ok := expect[h]; !ok {
			t.Errorf("%q: a packet.gap (%s), want none", h, gaps[h].last.Summary)
		}
	}
	for h, w := range expect {
		g := gaps[h]
		switch {
		case g == nil || g.raised != 1 || g.last.State != event.FindingCleared || !g.data.Resumed:
			t.Errorf("%s: want exactly one packet.gap, raised and cleared when the adverts resumed; got %+v", h, g)
		case w == nil && g.data.Sender != nil:
			t.Errorf("%s: the sender's own gap has a note %+v", h, *g.data.Sender)
		case w != nil && (g.data.Sender == nil || *g.data.Sender != *w):
			t.Errorf("%s: note %+v, want %+v", h, g.data.Sender, *w)
		case w != nil && !strings.HasSuffix(g.last.Summary, "; "+says[h]):
			t.Errorf("%s: summary %q, want it to end %q", h, g.last.Summary, says[h])
		}
	}
}

// upToSec is 0, 1, … n seconds.
func upToSec(n int) []float64 {
	var out []float64
	for i := 0; i <= n; i++ {
		out = append(out, float64(i))
	}
	return out
}

// TestVRRPAcrossHostsOverSSH is issue 17's VRRP test over ssh: three
// namespaces on a bridge, each with its own sshd, and one stakeout
// snapshot here watching all three with --ssh (the local host left out).
// h1 sends the adverts. First it stops for 3.5 s: the session's JSON
// report has exactly one packet.gap per receiving host, naming the host,
// that says h1 sent nothing. Then the bridge drops three adverts toward
// h2 only: h2's gap says h1 sent them and h2 never received them.
func TestVRRPAcrossHostsOverSSH(t *testing.T) {
	share(t, timing, quiet, long)
	for _, tc := range []struct {
		name    string
		adverts []float64
		drop    [2]float64
	}{
		{name: "not sent", adverts: upToSec(15)}, // then from 18.5 on
		{name: "sent, not received", adverts: upToSec(15), drop: [2]float64{15.5, 18.5}},
	} {
		// At once: each SSHHosts takes its own /24 under a lock, and
		// most of each run is waiting out its 35 s.
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lan := testenv.SSHHostsWith(t, 3, testenv.SSHOptions{Env: map[string]string{"PATH": filepath.Dir(binPath) + ":/usr/bin:/bin"}})
			file := filepath.Join(t.TempDir(), "vrrp.stk")
			args := []string{"snapshot", "--no-local", "--probes", "packets", "--filter", "vrrp", "--duration", "35s", "--format", "json", "-o", file}
			var hosts []string
			for _, h := range lan.Hosts {
				hosts = append(hosts, h.Alias)
				args = append(args, "--ssh", h.Alias)
			}
			fd := advertiser(t, lan.Hosts[0].NS, [4]byte(net.ParseIP(lan.Hosts[0].Addr).To4()))
			cmd := exec.Command(binPath, args...)
			cmd.Env = append(os.Environ(), remote.EnvSSH+"="+lan.SSH)
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var werr error
			go func() { werr = cmd.Wait(); close(done) }()
			defer func() { cmd.Process.Kill(); <-done }()
			// Each stream has started once a stakeout runs in its namespace;
			// its capture opens a moment later.
			for _, h := range lan.Hosts {
				testenv.Eventually(t, 90*time.Second, "stakeout stream running in "+h.NS, func() bool {
					select {
					case <-done:
						t.Fatalf("snapshot ended before its streams ran: %v\n%s", werr, errb.String())
					default:
					}
					return streamIn(h.NS)
				})
			}
			start := time.Now().Add(2 * time.Second)
			adverts := tc.adverts
			if tc.drop[0] == tc.drop[1] {
				adverts = append(adverts, 18.5)
			} else {
				adverts = append(adverts, 16, 17, 18, 19)
			}
			// Adverts go on every second until the snapshot ends, so the
			// hole is the only silence.
			for last := adverts[len(adverts)-1]; last < 40; last++ {
				adverts = append(adverts, last+1)
			}
			dropped := vrrpRun(t, fd, start, adverts, tc.drop, done, func() func() {
				return dropToward(t, "", bridgePort(lan, 1))
			})
			<-done
			if werr != nil {
				t.Fatalf("snapshot: %v\n%s", werr, errb.String())
			}
			checkVRRPGaps(t, reportGaps(t, out.String()), hosts, dropped)
		})
	}
}

// streamIn is whether a stakeout stream runs in namespace ns.
func streamIn(ns string) bool {
	for _, pid := range testenv.NetnsPids(ns) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if args := strings.Split(string(cmdline), "\x00"); len(args) > 1 && strings.Contains(args[0], "stakeout") && args[1] == "stream" {
			return true
		}
	}
	return false
}

// bridgePort is the bridge's port toward host i of an SSHHosts network.
func bridgePort(lan testenv.SSHNet, i int) string {
	ns := lan.Hosts[i].NS // stk-ssh-TAG-hN
	f := strings.Split(ns, "-")
	return "sv" + f[2] + f[3]
}

// reportGaps folds the packet.gap findings of a snapshot's JSON report by
// the host each names: a report lists each condition once, as its latest
// event, so each entry counts as one raised.
func reportGaps(t *testing.T, doc string) map[string]*hostGap {
	t.Helper()
	var rep struct {
		Findings []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal([]byte(doc), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, doc)
	}
	out := map[string]*hostGap{}
	for _, raw := range rep.Findings {
		var ev event.Event
		if err := ev.UnmarshalJSON(raw); err != nil {
			t.Fatalf("finding %s: %v", raw, err)
		}
		f, ok := event.As[event.Finding](ev)
		if !ok || f.Finding != findings.FindingPacketGap {
			continue
		}
		t.Logf("report: %s %-7s %s", ev.Host, f.State, f.Summary)
		if ev.Host == "" {
			t.Errorf("packet.gap names no host: %s", raw)
		}
		g := out[ev.Host]
		if g == nil {
			g = &hostGap{}
			out[ev.Host] = g
		}
		data, ok := f.Data.(findings.PacketGapData)
		if !ok {
			t.Fatalf("packet.gap data read back as %T", f.Data)
		}
		g.raised++ // one entry per condition
		g.last, g.data = f, data
	}
	return out
}
