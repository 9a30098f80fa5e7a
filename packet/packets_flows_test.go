package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testframes"
)

// TestFlowTableWalkMatchesAdd: a batch walked by Observe (with its inline
// path for runs of one flow) leaves every flow exactly as Add does packet
// by packet, and ObserveNotable hands on exactly the RSTs, unusual gaps and
// flows' first packets.
// The batches mix runs and interleaved flows, SYN/FIN/RST, gaps from 0 to
// 4 s, second boundaries and a capture that goes back in time, and a flow
// every 60 ms that now and then falls silent for 0.6 s, which the silence
// heaps (Overdue at each batch's end) must report alike.
func TestFlowTableWalkMatchesAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	walked, added := NewFlowTable(64), NewFlowTable(64)
	walked.WatchSilence, added.WatchSilence = true, true
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	var notable, want []Arrival
	overdue := 0
	nextP := at.UnixMicro() // the periodic flow's next packet
	for round := range 300 {
		b := &PacketBatch{Iface: "eth0", Start: at}
		if round == 150 {
			b.Start = at.Add(-time.Hour) // another capture: both tables reset
			nextP = b.Start.UnixMicro()
		}
		now := b.Start.UnixMicro()
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
			case 2:
				dt = 40_000 // past the burst gap
			}
			for now+dt >= nextP {
				b.DtUs = append(b.DtUs, nextP-now)
				b.Flow = append(b.Flow, 500)
				b.Flags = append(b.Flags, 0)
				b.Len = append(b.Len, 80)
				dt -= nextP - now
				now = nextP
				nextP += 60_000
				if rng.IntN(40) == 0 {
					nextP += 540_000
				}
			}
			now += dt
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
			if a.Unusual || a.Silent || a.New || p.Flags&FlagRST != 0 {
				want = append(want, a)
			}
		})
		at = b.Start.Add(time.Duration(sum(b.DtUs)) * time.Microsecond)
		var wd, ad []uint32
		walked.Overdue("eth0", at.UnixMicro(), func(f *FlowStats, _ time.Duration) { wd = append(wd, f.Info.ID) })
		added.Overdue("eth0", at.UnixMicro(), func(f *FlowStats, _ time.Duration) { ad = append(ad, f.Info.ID) })
		if !reflect.DeepEqual(wd, ad) {
			t.Fatalf("round %d: overdue %v walked, %v added", round, wd, ad)
		}
		overdue += len(wd)
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
	t.Logf("%d notable packets, %d flows came due", len(want), overdue)
	for i := range want {
		w, g := want[i], notable[i]
		if w.Gap != g.Gap || w.Usual != g.Usual || w.Unusual != g.Unusual || w.New != g.New || w.Silent != g.Silent || w.Flow.Info.ID != g.Flow.Info.ID {
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

// udpFrame is an Ethernet/IPv4/UDP frame from 10.0.0.1:sport to
// 10.0.0.2:53.
func udpFrame(t testing.TB, sport uint16) []byte {
	t.Helper()
	pkt := testframes.VLAN(t)
	binary.BigEndian.PutUint16(pkt[34:], sport)
	return pkt
}

// TestFlowKeepsItsIDAcrossEvictions: a flow the capture's table forgot
// under a flood of others (more than MaxCaptureFlows) has the same id when
// it comes back, and is announced again under it; flows known at once
// never share an id.
func TestFlowKeepsItsIDAcrossEvictions(t *testing.T) {
	var flows []*FlowInfo
	ids := NewFlowIDs()
	b := NewBatcher("eth0", LinkEthernet, ids, func(ev event.Event) {
		if fi, ok := ev.Body.(*FlowInfo); ok {
			flows = append(flows, fi)
		}
	}, false)
	heartbeat := udpFrame(t, 5000)
	us := int64(1_000_000)
	var beat []uint32
	for round := range 3 {
		b.AddUs(heartbeat, us, uint32(len(heartbeat)), VlanTag{})
		beat = append(beat, b.slots[b.last].id)
		// New flows, each newer than the heartbeat: it is the idlest,
		// forgotten at the first eviction. Under StormNewFlows a second,
		// so each is remembered (a storm's would not be).
		for i := range MaxCaptureFlows + 100 {
			us += 2e6 / StormNewFlows
			pkt := udpFrame(t, uint16(10000+i))
			pkt[30] = byte(round) // another destination each round: new flows
			b.AddUs(pkt, us, uint32(len(pkt)), VlanTag{})
		}
		if b.index.n > MaxCaptureFlows || len(b.slots) > MaxCaptureFlows+1 {
			t.Fatalf("%d flows (%d slots) in the capture's table, cap %d", b.index.n, len(b.slots), MaxCaptureFlows)
		}
	}
	if beat[0] != beat[1] || beat[1] != beat[2] {
		t.Errorf("the heartbeat's ids across evictions: %v", beat)
	}
	var named int
	live := map[uint32]string{}
	for _, fi := range flows {
		if fi.Src == "10.0.0.1:5000" {
			named++
			if fi.ID != beat[0] {
				t.Errorf("announced as %d, sent as %d", fi.ID, beat[0])
			}
		}
	}
	if named != 3 {
		t.Errorf("the heartbeat was announced %d times, want once per return", named)
	}
	for _, s := range b.slots[1:] {
		if si := b.find(&s.key, s.hash); si == 0 || b.slots[si].id != s.id {
			t.Errorf("flow %d is not found by its key", s.id)
		}
		fi := s.key.Info(s.id, "eth0")
		if other, dup := live[s.id]; dup {
			t.Errorf("id %d held by %s and %s", s.id, other, fi.String())
		}
		live[s.id] = fi.String()
	}
	if ids.live.n != b.index.n || b.index.n != len(b.slots)-1 {
		t.Errorf("%d ids held for %d flows indexed, %d slots", ids.live.n, b.index.n, len(b.slots)-1)
	}
}

// TestFlowIDCollisionTakesTheNextFree: a flow whose hash another live flow
// holds gets the next free id, and gets its own back once that is released.
func TestFlowIDCollisionTakesTheNextFree(t *testing.T) {
	ids := NewFlowIDs()
	var k flowKey
	k.SrcPort, k.proto, k.ipVer = 5000, 17, 4
	h := ids.hash("eth0", &k)
	if other := ids.hash("eth1", &k); other == h {
		t.Errorf("the same 5-tuple on two interfaces hashes alike")
	}
	ids.take(h) // as if two other flows held them
	ids.take(h + 1)
	if id := ids.take(ids.hash("eth0", &k)); id != h+2 {
		t.Errorf("took %d, want %d", id, h+2)
	}
	ids.release(h, h+2)
	if id := ids.take(ids.hash("eth0", &k)); id != h {
		t.Errorf("took %d once free, want its own %d", id, h)
	}
}

// onePacket is a batch of one packet of flow id at us.
func onePacket(id uint32, us int64, flags uint8) event.Event {
	at := time.UnixMicro(us)
	return event.New(at, "packets", &PacketBatch{Iface: "eth0", Start: at, DtUs: []int64{0}, Flow: []uint32{id},
		Flags: ByteNums{flags}, Len: []uint32{60}})
}

// TestPeriodicFlowsAreSparedEviction: a table of 64 keeps a 1 s flow's
// period through 1000 other flows, each newer; with more periodic flows
// than an eighth of the cap, those periodic the longest are kept and the
// others go too, and the table stays within its cap.
func TestPeriodicFlowsAreSparedEviction(t *testing.T) {
	tab := NewFlowTable(64)
	us := int64(1_000_000_000)
	for s := range 16 {
		tab.Observe(onePacket(1, us+int64(s)*1e6, 0), nil)
	}
	us += 15e6
	for i := range 1000 {
		tab.Observe(onePacket(uint32(100+i), us+int64(i), 0), nil)
	}
	f := tab.Get(1)
	if f == nil {
		t.Fatal("the periodic flow was evicted")
	}
	if u, ok := f.Usual(tab.Rule); !ok || u != time.Second || !f.Periodic() {
		t.Errorf("usual %v periodic %v", u, ok)
	}
	if tab.Len() > 64 {
		t.Errorf("%d flows, cap 64", tab.Len())
	}
	// 20 more periodic flows, each learning its period a little later:
	// more than 64/8, so only those periodic the longest are spared.
	for s := range 16 {
		for p := range 20 {
			tab.Observe(onePacket(uint32(5000+p), us+int64(1+p)*1e3+int64(s)*1e6, 0), nil)
		}
	}
	us += 20e6
	for i := range 1000 {
		tab.Observe(onePacket(uint32(9000+i), us+int64(i), 0), nil)
	}
	var kept []int
	for p := range 20 {
		if tab.Get(uint32(5000+p)) != nil {
			kept = append(kept, p)
		}
	}
	if tab.Get(1) == nil || !reflect.DeepEqual(kept, []int{0, 1, 2, 3, 4, 5, 6}) || tab.Len() > 64 {
		t.Errorf("kept the first flow: %v, and of the 20 others %v (want the 7 periodic longest); %d flows", tab.Get(1) != nil, kept, tab.Len())
	}
}

// TestOverdueReportsASilenceOnce: with WatchSilence, a periodic flow comes
// due once its silence reaches the threshold, on its own interface only,
// once per silence; its next packet says it ended that silence; a TCP
// connection that closed never comes due.
func TestOverdueReportsASilenceOnce(t *testing.T) {
	tab := NewFlowTable(64)
	tab.WatchSilence = true
	us := int64(1_000_000_000)
	tab.Observe(event.New(time.UnixMicro(us), "packets", &FlowInfo{ID: 1, Iface: "eth0", Proto: "udp", Src: "a:1", Dst: "b:2"}), nil)
	for s := range 16 {
		tab.Observe(onePacket(1, us+int64(s)*1e6, 0), nil)
		tab.Observe(onePacket(2, us+int64(s)*1e6+10, FlagACK), nil)
	}
	tab.Observe(onePacket(2, us+15e6+20, FlagFIN|FlagACK), nil)
	last := us + 15e6
	var due []uint32
	at := func(now int64, iface string) {
		tab.Overdue(iface, now, func(f *FlowStats, silence time.Duration) {
			due = append(due, f.Info.ID)
			if silence != time.Duration(now-last)*time.Microsecond {
				t.Errorf("silence %v at %d", silence, now-last)
			}
		})
	}
	at(last+2_400_000, "eth0")
	at(last+9_000_000, "eth1")
	if len(due) != 0 {
		t.Fatalf("due before the threshold or on another interface: %v", due)
	}
	at(last+2_500_000, "eth0")
	at(last+9_000_000, "eth0")
	if len(due) != 1 || due[0] != 1 {
		t.Fatalf("due %v, want flow 1 once (flow 2 closed)", due)
	}
	var a Arrival
	tab.ObserveNotable(onePacket(1, last+9_500_000, 0), func(p Packet, ar Arrival) { a = ar })
	if !a.Silent || !a.Unusual || a.Gap != 9500*time.Millisecond || a.Usual != time.Second {
		t.Errorf("resuming arrival %+v", a)
	}
}
