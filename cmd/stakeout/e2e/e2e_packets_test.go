//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/stakeout/stakeout/internal/testenv"
)

// vethPair makes two network namespaces joined by a veth pair, 10.231.N.1
// in the first and 10.231.N.2 in the second, IPv6 off so no router or
// listener chatter shows up. Only these namespaces ever carry test
// traffic. They are deleted when the test ends, whatever happens.
func vethPair(t *testing.T, n int) (nsA, nsB, ifA, ifB string) {
	t.Helper()
	testenv.NeedRoot(t, "to make network namespaces")
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not installed (make test installs iproute2)")
	}
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, n)
	nsA, nsB, ifA, ifB = "stk-a"+id, "stk-b"+id, "stka"+id, "stkb"+id
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", nsA).Run()
		exec.Command("ip", "netns", "del", nsB).Run()
	})
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Skipf("%s: %v %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	sh("ip", "netns", "add", nsA)
	sh("ip", "netns", "add", nsB)
	for _, ns := range []string{nsA, nsB} {
		sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	sh("ip", "link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	sh("ip", "-n", nsA, "addr", "add", fmt.Sprintf("10.231.%d.1/24", n), "dev", ifA)
	sh("ip", "-n", nsB, "addr", "add", fmt.Sprintf("10.231.%d.2/24", n), "dev", ifB)
	sh("ip", "-n", nsA, "link", "set", ifA, "up")
	sh("ip", "-n", nsB, "link", "set", ifB, "up")
	return
}

// inNetns runs fn on a thread moved into namespace ns; sockets fn opens
// belong to ns for good. The thread is thrown away afterwards rather than
// moved back.
// neighborOn gives nsA a permanent neighbour entry on ifA: addr at ifB's
// MAC (in nsB), so A sends to an address nobody answers for without ARP.
func neighborOn(t *testing.T, nsA, ifA, addr, nsB, ifB string) {
	t.Helper()
	var mac net.HardwareAddr
	inNetns(t, nsB, func() {
		ifc, err := net.InterfaceByName(ifB)
		if err != nil {
			t.Error(err)
			return
		}
		mac = ifc.HardwareAddr
	})
	if t.Failed() {
		t.FailNow()
	}
	if out, err := exec.Command("ip", "-n", nsA, "neigh", "add", addr, "lladdr", mac.String(), "dev", ifA, "nud", "permanent").CombinedOutput(); err != nil {
		t.Fatalf("ip neigh: %v %s", err, out)
	}
}

func inNetns(t *testing.T, ns string, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		fn()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("entering %s: %v", ns, err)
	}
}

// snapshotIn starts `stakeout snapshot` inside ns capturing on iface.
func snapshotIn(t *testing.T, ns, iface string, d time.Duration, extra ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "p.stk")
	args := append([]string{"netns", "exec", ns, binPath, "snapshot", "--duration", d.String(),
		"--probes", "packets", "--iface", iface, "--format", "json", "-o", file}, extra...)
	cmd := exec.Command("ip", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

type snapDoc struct {
	Probes   []struct{ Name, Status, Reason string } `json:"probes"`
	Findings []struct {
		Time     time.Time      `json:"time"`
		Finding  string         `json:"finding"`
		Severity string         `json:"severity"`
		Summary  string         `json:"summary"`
		Data     map[string]any `json:"data"`
		Key      string         `json:"key"`
		State    string         `json:"state"`
	} `json:"findings"`
}

// gapsOf counts the packet.gap conditions raised, and returns the data of
// those that ended (cleared), in order. A report lists each condition once,
// as its latest event: a silence that ended is its clear, with the whole
// gap.
func gapsOf(doc snapDoc) (raised int, cleared []map[string]any) {
	for _, f := range doc.Findings {
		if f.Finding != "packet.gap" {
			continue
		}
		raised++
		if f.State == "cleared" {
			cleared = append(cleared, f.Data)
		}
	}
	return raised, cleared
}

func waitDoc(t *testing.T, cmd *exec.Cmd, out *strings.Builder) snapDoc {
	t.Helper()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, out)
	}
	var doc snapDoc
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("snapshot output: %v\n%s", err, out)
	}
	for _, p := range doc.Probes {
		if p.Name == "packets" && p.Status != "ok" {
			t.Fatalf("packets probe %s: %s", p.Status, p.Reason)
		}
	}
	return doc
}

// TestVRRPGapInNamespaces sends VRRP-like adverts (IP protocol 112 to
// 224.0.0.18) every second with one 3.5 s hole, as in the OpenStack
// incident; stakeout in the other namespace must report exactly that gap:
// raised during the hole, cleared by the next advert with its length.
func TestVRRPGapInNamespaces(t *testing.T) {
	share(t, timing, quiet)
	nsA, nsB, _, ifB := vethPair(t, 1)
	var fd int
	inNetns(t, nsA, func() {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, 112); err != nil {
			t.Errorf("raw socket: %v", err)
			return
		}
		// 224.0.0.0/4 has no route here: name the interface to send on.
		if err := unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, [4]byte{10, 231, 1, 1}); err != nil {
			t.Errorf("IP_MULTICAST_IF: %v", err)
		}
	})
	if t.Failed() {
		return
	}
	defer unix.Close(fd)

	// The kernel filter keeps only VRRP (and checks the compiled program
	// really is attached): the ARP of the TCP test would not pass it.
	cmd, out := snapshotIn(t, nsB, ifB, 21*time.Second, "--filter", "vrrp")
	start := time.Now().Add(time.Second)                              // let the capture start
	advert := []byte{0x21, 205, 101, 1, 0, 1, 0, 0, 192, 168, 205, 7} // VRRPv2: vrid 205, prio 101, one VIP
	// 16 adverts (12 intervals make a period), the hole, two more.
	var at []time.Duration
	for i := range 16 {
		at = append(at, time.Duration(i)*time.Second)
	}
	at = append(at, at[15]+3500*time.Millisecond, at[15]+4500*time.Millisecond)
	for _, off := range at {
		time.Sleep(time.Until(start.Add(off)))
		if err := unix.Sendto(fd, advert, 0, &unix.SockaddrInet4{Addr: [4]byte{224, 0, 0, 18}}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	doc := waitDoc(t, cmd, out)
	raised, gaps := gapsOf(doc)
	if raised != 1 || len(gaps) != 1 {
		t.Fatalf("want exactly one packet.gap, raised and cleared; got %d raised, %d cleared: %+v", raised, len(gaps), doc.Findings)
	}
	g := gaps[0]
	t.Logf("packet.gap %v", g)
	if ms, _ := g["gap_ms"].(float64); math.Abs(ms-3500) > 150 {
		t.Errorf("gap_ms %v, want 3500 ± 150", g["gap_ms"])
	}
	if g["proto"] != "vrrp" || g["iface"] != ifB || g["flow"] != "10.231.1.1 > 224.0.0.18" || g["resumed"] != true {
		t.Errorf("gap data %v", g)
	}
}

// TestStallThenResetInNamespaces: a server accepts, says nothing for 2 s,
// then resets the connection (SO_LINGER 0), as the pfsync incident's app
// tier did. stakeout must report packet.stall_reset.
func TestStallThenResetInNamespaces(t *testing.T) {
	share(t, timing, quiet)
	nsA, nsB, _, ifB := vethPair(t, 2)
	var ln net.Listener
	inNetns(t, nsA, func() {
		var err error
		if ln, err = net.Listen("tcp4", "10.231.2.1:8080"); err != nil {
			t.Errorf("listen: %v", err)
		}
	})
	if t.Failed() {
		return
	}
	defer ln.Close()
	cmd, out := snapshotIn(t, nsB, ifB, 5*time.Second)
	time.Sleep(time.Second)

	var client net.Conn
	inNetns(t, nsB, func() {
		var err error
		if client, err = net.DialTimeout("tcp4", "10.231.2.1:8080", 2*time.Second); err != nil {
			t.Errorf("dial: %v", err)
		}
	})
	if t.Failed() {
		return
	}
	defer client.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	tc := srv.(*net.TCPConn)
	tc.SetLinger(0) // close sends RST instead of FIN
	tc.Close()
	_, err = client.Read(make([]byte, 1))
	if !isReset(err) {
		t.Logf("client read after reset: %v", err)
	}

	doc := waitDoc(t, cmd, out)
	var got []map[string]any
	for _, f := range doc.Findings {
		if f.Finding == "packet.stall_reset" {
			got = append(got, f.Data)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one packet.stall_reset, got %+v", doc.Findings)
	}
	t.Logf("packet.stall_reset %v", got[0])
	if ms, _ := got[0]["stall_ms"].(float64); ms < 1900 || ms > 2600 {
		t.Errorf("stall_ms %v, want about 2000", got[0]["stall_ms"])
	}
	if !strings.HasPrefix(fmt.Sprint(got[0]["flow"]), "10.231.2.1:8080 > 10.231.2.2:") {
		t.Errorf("flow %v", got[0]["flow"])
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), syscall.ECONNRESET.Error())
}

func TestBadIfaceIsOneLine(t *testing.T) {
	share(t)
	r := run(t, nil, "snapshot", "--duration", "1s", "--no-record", "--probes", "packets", "--iface", "eth9")
	oneLineError(t, r, exitUsage, "no interface eth9")
	r = run(t, nil, "snapshot", "--duration", "1s", "--no-record", "--probes", "packets", "--filter", "vlan 7")
	oneLineError(t, r, exitUsage, `--filter "vlan 7"`)
	t.Logf("%s", r.stderr)
}

// TestReportOnTcpdumpCapture: a pcap from another box (here written by the
// test) gets the same findings as a live capture, through report, events
// and the replay's source.
func TestReportOnTcpdumpCapture(t *testing.T) {
	share(t)
	path := writeVRRPCapture(t)

	tmp := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	r := run(t, env, "report", path, "--format", "json")
	if r.code != 0 {
		t.Fatalf("report: %+v", r)
	}
	var doc snapDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	// A file has no clock but its packets: the hole is raised when the
	// next advert's batch shows it, and cleared by that advert.
	if raised, gaps := gapsOf(doc); len(doc.Findings) != 1 || raised != 1 || len(gaps) != 1 || gaps[0]["gap_ms"] != 3500.0 {
		t.Fatalf("findings %+v", doc.Findings)
	}
	ev := run(t, env, "events", path, "--kind", "packets")
	if ev.code != 0 || strings.Count(ev.stdout, "\n") < 2 || !strings.Contains(ev.stdout, `"iface":"pcap"`) {
		t.Fatalf("events: %+v", ev)
	}
	if matches, _ := filepath.Glob(filepath.Join(tmp, "*")); len(matches) != 0 {
		t.Errorf("temporary session files left behind: %v", matches)
	}

	// export --pcap rebuilds the headers: the same packets at the same
	// times, and the same finding when read back.
	out := filepath.Join(t.TempDir(), "back.pcap")
	if r := run(t, env, "export", path, "--pcap", out); r.code != 0 || !strings.Contains(r.stdout, "wrote 18 packets") {
		t.Fatalf("export: %+v", r)
	}
	r = run(t, env, "report", out, "--format", "json")
	var back snapDoc
	json.Unmarshal([]byte(r.stdout), &back)
	if raised, gaps := gapsOf(back); raised != 1 || len(gaps) != 1 || gaps[0]["gap_ms"] != 3500.0 || gaps[0]["flow"] != "10.0.0.1 > 224.0.0.18" {
		t.Errorf("exported capture: %+v", back.Findings)
	}
	if _, err := exec.LookPath("tcpdump"); err == nil {
		a, _ := exec.Command("tcpdump", "-r", path, "-n", "-ttt", "-q").Output()
		b, _ := exec.Command("tcpdump", "-r", out, "-n", "-ttt", "-q").Output()
		// Time, protocol and both ends agree; the TTL is not recorded.
		head := func(out []byte) (h []string) {
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				h = append(h, strings.Join(strings.Fields(l)[:5], " "))
			}
			return h
		}
		if fmt.Sprint(head(a)) != fmt.Sprint(head(b)) || len(head(a)) != 18 {
			t.Errorf("tcpdump -r differs:\noriginal\n%s\nexported\n%s", a, b)
		}
	}
	oneLineError(t, run(t, env, "export", path, "--pcap", out), exitError, "file exists")
}

// TestKernelDropsAreReported overflows a 1 MiB ring with full-size payloads
// on lo: the kernel's PACKET_STATISTICS drops must reach the summary and a
// packet.drops finding, which tcpdump would only print at exit.
func TestKernelDropsAreReported(t *testing.T) {
	share(t, loads, afterOthers)
	testenv.NeedRoot(t, "to capture")
	file := filepath.Join(t.TempDir(), "d.stk")
	cmd := exec.Command(binPath, "snapshot", "--duration", "4s", "--probes", "packets", "--iface", "lo",
		"--ring-mb", "1", "--payload", "--format", "json", "-o", file)
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8000)
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		tx.Write(buf)
	}
	tx.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		snapDoc
		Summary struct {
			Packets struct {
				Ifaces []struct {
					Iface          string
					Packets, Drops float64
					Kernel         float64 `json:"kernel_packets"`
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Summary.Packets.Ifaces) != 1 {
		t.Fatalf("summary %+v", doc.Summary)
	}
	lo := doc.Summary.Packets.Ifaces[0]
	t.Logf("lo: kernel %v, dropped %v, recorded %v", lo.Kernel, lo.Drops, lo.Packets)
	if lo.Drops == 0 {
		t.Skip("this machine kept up with a 1 MiB ring; nothing to report")
	}
	var got []map[string]any
	for _, f := range doc.Findings {
		if f.Finding == "packet.drops" {
			got = append(got, f.Data)
		}
	}
	if len(got) == 0 || got[0]["iface"] != "lo" || got[0]["drops"].(float64) <= 0 || got[0]["drops"].(float64) > lo.Drops {
		t.Errorf("packet.drops findings %v for %v drops", got, lo.Drops)
	}
	// Every packet that passed the filter was either recorded or dropped
	// (up to the few the engine itself may shed under this load).
	if lo.Packets+lo.Drops > lo.Kernel || lo.Packets+lo.Drops < lo.Kernel*0.95 {
		t.Errorf("recorded %v + dropped %v vs kernel %v", lo.Packets, lo.Drops, lo.Kernel)
	}
}

// TestVLANFlowsInNamespaces sends the same UDP 5-tuple tagged with VLAN 10
// and VLAN 20 (802.1Q frames written to a packet socket) across a veth
// pair. The receiving kernel takes the tags off the frames and reports
// them beside each packet; stakeout capturing there must see two flows,
// one per VLAN, each with its own datagrams.
func TestVLANFlowsInNamespaces(t *testing.T) {
	share(t)
	nsA, nsB, ifA, ifB := vethPair(t, 3)
	cmd, out := snapshotIn(t, nsB, ifB, 3*time.Second)
	time.Sleep(time.Second)
	frame := func(vlan uint16) []byte {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.IPv4(10, 231, 3, 1), DstIP: net.IPv4(10, 231, 3, 2)}
		udp := &layers.UDP{SrcPort: 5000, DstPort: 5001}
		udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 3, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 3, 2}, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: vlan, Type: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload("vlan"))
		return buf.Bytes()
	}
	inNetns(t, nsA, func() {
		ifc, err := net.InterfaceByName(ifA)
		if err != nil {
			t.Error(err)
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6}
		for range 5 {
			for _, v := range []uint16{10, 20} {
				if err := unix.Sendto(fd, frame(v), 0, to); err != nil {
					t.Errorf("send on VLAN %d: %v", v, err)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, out)
	}
	var doc struct {
		Summary struct {
			Packets struct {
				Top []struct {
					Flow    string
					Packets int
				} `json:"top_flows"`
			} `json:"packets"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]int{}
	for _, f := range doc.Summary.Packets.Top {
		got[f.Flow] = f.Packets
	}
	t.Logf("flows: %v", got)
	for _, v := range []string{"10", "20"} {
		if n := got["10.231.3.1:5000 > 10.231.3.2:5001 vlan "+v]; n != 5 {
			t.Errorf("VLAN %s: %d datagrams, want 5 (flows %v)", v, n, got)
		}
	}
}

// TestExportOfRawIPPayloadIsReadByTcpdump captures with --payload on a tun
// interface (raw IP: packets begin at the IP header) in a namespace made by
// the test, exports the recording, and tcpdump must read the export as raw
// IP: LINKTYPE_RAW, the datagrams' ends and ports, the payload bytes.
func TestExportOfRawIPPayloadIsReadByTcpdump(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "to make a network namespace and a tun")
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed (make test installs it)")
	}
	ns, tun := fmt.Sprintf("stk-t%d", os.Getpid()%100000), "stktun0"
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	var tunFile *os.File
	inNetns(t, ns, func() {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Errorf("/dev/net/tun: %v", err)
			return
		}
		ifr, _ := unix.NewIfreq(tun)
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			t.Errorf("TUNSETIFF: %v", err)
			return
		}
		tunFile = os.NewFile(uintptr(fd), tun) // held open: the link has carrier while it is
	})
	if t.Failed() {
		return
	}
	defer tunFile.Close()
	for _, args := range [][]string{{"addr", "add", "10.233.0.1/24", "dev", tun}, {"link", "set", tun, "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	rec := filepath.Join(t.TempDir(), "tun.stk")
	cmd := exec.Command("ip", "netns", "exec", ns, binPath, "snapshot", "--duration", "2s", "--probes", "packets",
		"--iface", tun, "--payload", "--format", "json", "-o", rec)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	inNetns(t, ns, func() {
		c, err := net.Dial("udp4", "10.233.0.2:40001")
		if err != nil {
			t.Errorf("dial: %v", err)
			return
		}
		defer c.Close()
		for range 3 {
			c.Write([]byte("through-the-tun"))
		}
	})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, out.String())
	}
	pcap := filepath.Join(t.TempDir(), "tun.pcap")
	if r := run(t, nil, "export", rec, "--pcap", pcap); r.code != 0 || !strings.Contains(r.stdout, "wrote 3 packets") {
		t.Fatalf("export: %+v", r)
	}
	td, err := exec.Command("tcpdump", "-r", pcap, "-n", "-A").CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, td)
	}
	t.Logf("tcpdump -r:\n%s", td)
	s := string(td)
	if !strings.Contains(s, "link-type RAW") || strings.Count(s, "IP 10.233.0.1.") != 3 ||
		strings.Count(s, "> 10.233.0.2.40001: UDP, length 15") != 3 || strings.Count(s, "through-the-tun") != 3 {
		t.Errorf("tcpdump did not read three raw IP datagrams from the export")
	}
}

// writeVRRPCapture writes a pcap, as tcpdump on another box would, of VRRP
// adverts from 10.0.0.1 once a second with one 3.5 s hole (15 s → 18.5 s).
func writeVRRPCapture(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	pkt := make([]byte, 54)
	copy(pkt[12:], []byte{8, 0, 0x45, 0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18})
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	for _, s := range []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18.5, 19.5} {
		ts := at.Add(time.Duration(s * float64(time.Second)))
		w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(pkt), Length: len(pkt)}, pkt)
	}
	path := filepath.Join(t.TempDir(), "vrrp.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
