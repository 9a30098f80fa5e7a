package engine

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/probes"
)

// TestBatchesAreReleasedOnlyAfterASinkThatKeepsNothing runs the real
// packets probe on lo through the engine: a sink that keeps nothing sees
// every datagram in full and the engine empties each batch only after the
// sink returned (its columns go back to the capture); a sink that may keep
// events (the TUI's) gets batches nobody touches afterwards.
func TestBatchesAreReleasedOnlyAfterASinkThatKeepsNothing(t *testing.T) {
	testenv.NeedRoot(t, "CAP_NET_RAW to capture")
	for _, keepsNothing := range []bool{true, false} {
		rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		cfg := probes.DefaultConfig()
		cfg.Packets.Ifaces = []string{"lo"}
		spec, _ := probes.Lookup("packets")
		var (
			mu      sync.Mutex
			kept    []*packet.PacketBatch
			atSink  int // our datagrams, counted while the sink had them
			ourFlow = map[uint32]bool{}
		)
		src, dst := tx.LocalAddr().String(), rx.LocalAddr().String()
		e := New(Options{
			Probes:           []Named{{Name: "packets", Probe: spec.New(cfg)}},
			SinkKeepsNothing: keepsNothing,
			BatchEvery:       20 * time.Millisecond,
			Sink: func(evs []event.Event) {
				mu.Lock()
				defer mu.Unlock()
				for _, ev := range evs {
					if fi, ok := event.As[packet.FlowInfo](ev); ok && fi.Src == src && fi.Dst == dst {
						ourFlow[fi.ID] = true
					}
					if b, ok := event.As[packet.PacketBatch](ev); ok {
						kept = append(kept, b)
						for _, id := range b.Flow {
							if ourFlow[id] {
								atSink++
							}
						}
					}
				}
			},
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- e.Run(ctx) }()
		time.Sleep(300 * time.Millisecond)
		for range 50 {
			tx.Write([]byte("x"))
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		tx.Close()
		rx.Close()
		left := 0
		for _, b := range kept {
			left += b.N()
		}
		switch {
		case atSink != 50:
			t.Errorf("keepsNothing=%v: the sink saw %d of 50 datagrams", keepsNothing, atSink)
		case keepsNothing && left != 0:
			t.Errorf("a sink that keeps nothing: %d packets still in batches after it returned", left)
		case !keepsNothing && left < 50:
			t.Errorf("a sink that may keep events: its batches were emptied (%d packets left)", left)
		}
	}
}
