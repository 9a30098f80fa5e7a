package probes

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// TestCaptureOnLoopback runs the probe on lo and sends 20 UDP datagrams to a
// port of our own: every datagram must be recorded exactly once (lo's
// outgoing copy dropped, as libpcap does), with no payload, one flow event
// before its first use, and a capture_stats event.
func TestCaptureOnLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_RAW) to capture")
	}
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
	p := packetsSpec.New(cfg)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var evs []event.Event
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- p.Run(ctx, func(ev event.Event) { mu.Lock(); evs = append(evs, ev); mu.Unlock() })
	}()
	time.Sleep(300 * time.Millisecond)
	for range 20 {
		tx.Write(make([]byte, 1000))
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(1200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}

	var ours uint32
	known := map[uint32]bool{}
	n, stats := 0, 0
	src, dst := tx.LocalAddr().String(), rx.LocalAddr().String()
	for _, ev := range evs {
		switch b := ev.Body.(type) {
		case *FlowInfo:
			known[b.ID] = true
			if b.Src == src && b.Dst == dst && b.Proto == "udp" && b.Iface == "lo" {
				ours = b.ID
			}
		case *PacketBatch:
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
		case *CaptureStats:
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
