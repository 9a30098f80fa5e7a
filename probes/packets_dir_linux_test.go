package probes

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/packet"
)

// TestCaptureTellsOutgoingFlows: in a namespace of its own, the probe
// captures on one end of a veth pair while this namespace sends a datagram
// to the other end and the other end sends one back. The flow this host
// sent is announced with out (the kernel's PACKET_OUTGOING), the one it
// received without: a multi-host session tells a flow's sender by it.
func TestCaptureTellsOutgoingFlows(t *testing.T) {
	testenv.NeedRoot(t, "to make network namespaces and capture")
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not installed")
	}
	id := fmt.Sprint(os.Getpid() % 100000)
	nsA, nsB, ifA, ifB := "stk-dira"+id, "stk-dirb"+id, "stkda"+id, "stkdb"+id
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", nsA).Run()
		exec.Command("ip", "netns", "del", nsB).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", nsA}, {"netns", "add", nsB},
		{"link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB},
		{"-n", nsA, "addr", "add", "10.233.7.1/24", "dev", ifA}, {"-n", nsB, "addr", "add", "10.233.7.2/24", "dev", ifB},
		{"-n", nsA, "link", "set", ifA, "up"}, {"-n", nsB, "link", "set", ifB, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	inNs := func(ns string, fn func()) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			f, err := os.Open("/var/run/netns/" + ns)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				t.Error(err)
				return
			}
			fn()
		}()
		<-done
	}
	var a, b *net.UDPConn
	inNs(nsA, func() {
		var err error
		if a, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 233, 7, 1), Port: 7101}); err != nil {
			t.Error(err)
		}
	})
	inNs(nsB, func() {
		var err error
		if b, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 233, 7, 2), Port: 7102}); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	defer a.Close()
	defer b.Close()

	cfg := DefaultConfig()
	cfg.Packets.Ifaces = []string{ifA}
	var mu sync.Mutex
	var evs []event.Event
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go inNs(nsA, func() { // the probe opens its sockets in Run, on this thread
		p := packetsSpec.New(cfg)
		if err := p.Check(); err != nil {
			close(started)
			done <- err
			return
		}
		close(started)
		done <- p.Run(ctx, func(ev event.Event) { mu.Lock(); evs = append(evs, ev); mu.Unlock() })
	})
	<-started
	time.Sleep(300 * time.Millisecond)
	if _, err := a.WriteToUDP([]byte("from a"), &net.UDPAddr{IP: net.IPv4(10, 233, 7, 2), Port: 7102}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteToUDP([]byte("from b"), &net.UDPAddr{IP: net.IPv4(10, 233, 7, 1), Port: 7101}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, ev := range evs {
		if fi, ok := ev.Body.(*packet.FlowInfo); ok {
			got[fi.Proto+" "+fi.String()] = fi.Out
			t.Logf("flow %s %s %s out=%v", fi.Iface, fi.Proto, fi, fi.Out)
		}
	}
	for flow, out := range map[string]bool{"udp 10.233.7.1:7101 > 10.233.7.2:7102": true, "udp 10.233.7.2:7102 > 10.233.7.1:7101": false} {
		if o, ok := got[flow]; !ok || o != out {
			t.Errorf("%s: announced %v, out %v; want out %v", flow, ok, o, out)
		}
	}
}
