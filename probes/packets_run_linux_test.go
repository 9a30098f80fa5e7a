package probes

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/packet"
)

// TestCaptureOnLoopback runs the probe on lo and sends 20 UDP datagrams to a
// port of our own: every datagram must be recorded exactly once (lo's
// outgoing copy dropped, as libpcap does), with no payload, one flow event
// before its first use, and a capture_stats event.
func TestCaptureOnLoopback(t *testing.T) {
	evs, src, dst := captureLo(t, false, 20, 1000)
	var ours uint32
	known := map[uint32]bool{}
	n, stats := 0, 0
	for _, ev := range evs {
		switch b := ev.Body.(type) {
		case *packet.FlowInfo:
			known[b.ID] = true
			if b.Src == src && b.Dst == dst && b.Proto == "udp" && b.Iface == "lo" {
				ours = b.ID
			}
		case *packet.PacketBatch:
			if len(b.Data) != 0 {
				t.Error("payload recorded without --payload")
			}
			for i, id := range b.Flow {
				if !known[id] {
					t.Errorf("flow %d used before its flow event", id)
				}
				if id == ours {
					n++
					if b.Len[i] != 1000+8+20+14 {
						t.Errorf("len %d, want the wire length 1042", b.Len[i])
					}
				}
			}
		case *packet.CaptureStats:
			stats++
		}
	}
	if ours == 0 || n != 20 {
		t.Errorf("recorded %d of our 20 datagrams (flow %d); lo's duplicate must be dropped", n, ours)
	}
	if stats == 0 {
		t.Error("no capture_stats event")
	}
}

// TestPayloadBatchesFitARecord: with --payload, 300 datagrams of 8000 bytes
// (2.4 MB) must be split into events the session file accepts (< 1 MiB).
func TestPayloadBatchesFitARecord(t *testing.T) {
	evs, _, _ := captureLo(t, true, 300, 8000)
	got := 0
	for _, ev := range evs {
		if b, ok := ev.Body.(*packet.PacketBatch); ok {
			for _, d := range b.Data {
				if len(d) == 8000+8+20+14 {
					got++
				}
			}
			if js, _ := json.Marshal(ev); len(js) >= 1<<20 {
				t.Errorf("a packets event of %d bytes: over the 1 MiB record limit", len(js))
			}
		}
	}
	if got != 300 {
		t.Errorf("%d of 300 payloads recorded whole", got)
	}
}

// captureLo runs the probe on lo while sending n datagrams of size bytes
// to a socket of the test's own, and returns the events and the flow's ends.
func captureLo(t *testing.T, payload bool, n, size int) (evs []event.Event, src, dst string) {
	t.Helper()
	testenv.NeedRoot(t, "CAP_NET_RAW to capture")
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	cfg := DefaultConfig()
	cfg.Packets.Ifaces = []string{"lo"}
	cfg.Packets.Payload = payload
	p := packetsSpec.New(cfg)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	rx.SetReadBuffer(n * size * 2)
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- p.Run(ctx, func(ev event.Event) { mu.Lock(); evs = append(evs, ev); mu.Unlock() })
	}()
	time.Sleep(300 * time.Millisecond)
	for range n {
		tx.Write(make([]byte, size))
		time.Sleep(time.Millisecond)
	}
	time.Sleep(1200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}

	return evs, tx.LocalAddr().String(), rx.LocalAddr().String()
}

// TestCaptureStatsOnTheSharedSecond: an interface's statistics are due on
// the second boundaries the polling probes and the engine tick on, never a
// sliver after it opened, so every interface and probe wakes the process
// in one instant a second, not each at the phase its capture happened to
// open at.
func TestCaptureStatsOnTheSharedSecond(t *testing.T) {
	testenv.NeedRoot(t, "CAP_NET_RAW to capture")
	var got []event.Event
	c, err := openCapture(target{name: "lo", link: packet.LinkEthernet, loopback: true, ringMB: 1},
		DefaultConfig().Packets, defaultSnaplen, packet.NewFlowIDs(), func(ev event.Event) { got = append(got, ev) })
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	onBoundary := func(when string, after time.Time) {
		t.Helper()
		due := c.statsDue
		if due.UnixNano()%int64(time.Second) != 0 || due.Sub(after) < statsEvery/2 || due.Sub(after) > statsEvery*3/2 {
			t.Errorf("%s: statistics due %v after %v: want the first whole second at least half a second on", when, due.Sub(after), after)
		}
	}
	onBoundary("opened", c.statsAt)
	now := c.statsDue.Add(3 * time.Millisecond) // woken a little late
	c.stats(now)
	if len(got) != 1 {
		t.Fatalf("%d events, want one capture_stats", len(got))
	}
	if st, ok := got[0].Body.(*packet.CaptureStats); !ok || st.Iface != "lo" || !got[0].Time.Equal(now) {
		t.Errorf("event %+v", got[0])
	}
	onBoundary("after a sample", now)
}
