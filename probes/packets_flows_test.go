package probes

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// TestFlowTableWalkMatchesAdd: a batch walked by Observe (with its inline
// path for runs of one flow) leaves every flow exactly as Add does packet
// by packet, and ObserveNotable hands on exactly the RSTs and unusual gaps.
// The batches mix runs and interleaved flows, SYN/FIN/RST, gaps from 0 to
// 4 s, second boundaries and a capture that goes back in time.
func TestFlowTableWalkMatchesAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	walked, added := NewFlowTable(64), NewFlowTable(64)
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	var notable, want []Arrival
	for round := range 300 {
		b := &PacketBatch{Iface: "eth0", Start: at}
		if round == 150 {
			b.Start = at.Add(-time.Hour) // another capture: both tables reset
		}
		flow := uint32(1)
		for range 1 + rng.IntN(400) {
			if rng.IntN(20) == 0 {
				flow = uint32(1 + rng.IntN(100)) // past the cap of 64: evictions
			}
			dt := int64(rng.IntN(300))
			switch rng.IntN(50) {
			case 0:
				dt = int64(rng.IntN(4_000_000))
			case 1:
				dt = 1_000_000
			}
			var fl uint8
			if rng.IntN(30) == 0 {
				fl = []uint8{FlagSYN, FlagFIN | FlagACK, FlagRST, FlagACK, FlagPSH}[rng.IntN(5)]
			}
			b.DtUs = append(b.DtUs, dt)
			b.Flow = append(b.Flow, flow)
			b.Flags = append(b.Flags, fl)
			b.Len = append(b.Len, uint32(60+rng.IntN(1400)))
		}
		ev := event.New(at, "packets", b)
		walked.ObserveNotable(ev, func(p Packet, a Arrival) { notable = append(notable, a) })
		b.Each(func(p Packet) {
			a := added.Add(p, b.Iface)
			if a.Unusual || p.Flags&FlagRST != 0 {
				want = append(want, a)
			}
		})
		at = b.Start.Add(time.Duration(sum(b.DtUs)) * time.Microsecond)
		if walked.Len() != added.Len() || !walked.Last.Equal(added.Last) {
			t.Fatalf("round %d: %d flows (last %v) walked, %d (last %v) added", round, walked.Len(), walked.Last, added.Len(), added.Last)
		}
		for _, f := range added.Flows() {
			g := walked.Get(f.Info.ID)
			if g == nil || !reflect.DeepEqual(*g, *f) {
				t.Fatalf("round %d flow %d:\nwalked %+v\n added %+v", round, f.Info.ID, g, f)
			}
		}
	}
	if len(notable) != len(want) || len(want) < 50 {
		t.Fatalf("%d notable packets handed on, want %d (and a fair number)", len(notable), len(want))
	}
	for i := range want {
		w, g := want[i], notable[i]
		if w.Gap != g.Gap || w.Usual != g.Usual || w.Unusual != g.Unusual || w.Flow.Info.ID != g.Flow.Info.ID {
			t.Fatalf("notable packet %d: got %+v, want %+v", i, g, w)
		}
	}
}

func sum(v []int64) (s int64) {
	for _, x := range v {
		s += x
	}
	return s
}

// TestFlowGapsMillenniaApartDoNotWrap: two packets of one flow 8,000 years
// apart (two batches of a hostile file) give a gap and a max gap that are
// long and positive; in nanoseconds the true gap would wrap to a negative.
func TestFlowGapsMillenniaApartDoNotWrap(t *testing.T) {
	ft := NewFlowTable(64)
	var gaps []time.Duration
	for _, start := range []time.Time{time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		b := &PacketBatch{Iface: "eth0", Start: start, DtUs: []int64{0}, Flow: []uint32{1}, Flags: ByteNums{FlagRST}, Len: []uint32{60}}
		ft.Observe(event.New(start, "packets", b), func(p Packet, a Arrival) { gaps = append(gaps, a.Gap) })
	}
	if len(gaps) != 2 || gaps[1] < 200*365*24*time.Hour {
		t.Errorf("gaps %v", gaps)
	}
	if f := ft.Flows()[0]; f.MaxGap < 200*365*24*time.Hour {
		t.Errorf("max gap %v", f.MaxGap)
	}
}
