package findings

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
)

var vrrp = probes.FlowInfo{ID: 1, Iface: "veth1", Proto: "vrrp", Src: "10.9.0.1", Dst: "224.0.0.18"}

// batches turns packet times into one "packets" event per packet, after
// the flow's "flow" event.
func batches(fi probes.FlowInfo, flags uint8, at ...time.Time) []event.Event {
	evs := []event.Event{event.New(at[0], "packets", &fi)}
	for _, t := range at {
		evs = append(evs, event.New(t, "packets", &probes.PacketBatch{Iface: fi.Iface, Start: t,
			DtUs: []int64{0}, Flow: []uint32{fi.ID}, Flags: probes.ByteNums{flags}, Len: []uint32{54}}))
	}
	return evs
}

func findingsNamed(evs []event.Event, name string) []*event.Finding {
	var out []*event.Finding
	for _, ev := range Run([]Detector{NewPackets()}, evs) {
		if f, _ := event.AsFinding(ev); f.Finding == name {
			out = append(out, f)
		}
	}
	return out
}

// every returns n times step apart from start, each moved by up to ±jitter.
func every(start time.Time, step time.Duration, n int, jitter time.Duration, rng *rand.Rand) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		j := time.Duration(0)
		if jitter > 0 {
			j = time.Duration(rng.Int64N(int64(2*jitter))) - jitter
		}
		out[i] = start.Add(time.Duration(i)*step + j)
	}
	return out
}

func TestVRRPGapFiresOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	before := every(t0, time.Second, 6, 20*time.Millisecond, rng)
	after := every(before[5].Add(3500*time.Millisecond), time.Second, 6, 20*time.Millisecond, rng)
	got := findingsNamed(batches(vrrp, 0, append(before, after...)...), FindingPacketGap)
	if len(got) != 1 {
		t.Fatalf("want one packet.gap, got %d: %+v", len(got), got)
	}
	d := got[0].Data.(PacketGapData)
	if d.GapMs != 3500 || d.UsualMs < 980 || d.UsualMs > 1020 || d.Flow != "10.9.0.1 > 224.0.0.18" || d.Proto != "vrrp" || d.Iface != "veth1" {
		t.Errorf("data %+v", d)
	}
	if got[0].Severity != event.Critical {
		t.Errorf("a 3.5 s hole in 1 s adverts is a failover: severity %v", got[0].Severity)
	}
	b, _ := json.Marshal(event.New(t0, "packets", got[0]))
	t.Logf("%s", b)
}

func TestJitterAndOneLostAdvertDoNotFire(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	times := every(t0, time.Second, 60, 200*time.Millisecond, rng) // ±20 %
	times = append(times[:30], times[31:]...)                      // one advert lost: a 2 s gap
	if got := findingsNamed(batches(vrrp, 0, times...), FindingPacketGap); len(got) != 0 {
		t.Fatalf("jitter fired: %+v", got)
	}
}

func TestIrregularTrafficDoesNotFire(t *testing.T) {
	// Interactive traffic: bursts and long pauses, never periodic.
	rng := rand.New(rand.NewPCG(5, 6))
	at, times := t0, []time.Time{}
	for range 300 {
		at = at.Add(time.Duration(rng.ExpFloat64() * float64(300*time.Millisecond)))
		times = append(times, at)
	}
	ssh := probes.FlowInfo{ID: 2, Iface: "eth0", Proto: "tcp", Src: "10.0.0.1:22", Dst: "10.0.0.9:50000"}
	if got := findingsNamed(batches(ssh, probes.FlagACK|probes.FlagPSH, times...), FindingPacketGap); len(got) != 0 {
		t.Fatalf("irregular traffic fired %d gaps: %+v", len(got), got[0])
	}
}

func TestStallThenResetFires(t *testing.T) {
	fi := probes.FlowInfo{ID: 3, Iface: "eth0", Proto: "tcp", Src: "10.0.0.2:8080", Dst: "10.0.0.1:40000"}
	evs := batches(fi, probes.FlagSYN|probes.FlagACK, t0)
	evs = append(evs, batches(fi, probes.FlagRST, t0.Add(2300*time.Millisecond))[1:]...)
	got := findingsNamed(evs, FindingPacketStallReset)
	if len(got) != 1 {
		t.Fatalf("want one stall_reset, got %+v", got)
	}
	if d := got[0].Data.(PacketStallResetData); d.StallMs != 2300 || d.Flow != fi.String() {
		t.Errorf("data %+v", d)
	}
	if got[0].Key != "packet.stall_reset eth0 "+`"`+fi.String()+`"` {
		t.Errorf("key %q", got[0].Key)
	}
	// A reset right away (connection refused) is not a stall.
	quick := batches(fi, probes.FlagSYN, t0)
	quick = append(quick, batches(fi, probes.FlagRST, t0.Add(time.Millisecond))[1:]...)
	if got := findingsNamed(quick, FindingPacketStallReset); len(got) != 0 {
		t.Errorf("immediate reset fired: %+v", got)
	}
}

func TestRSTStorm(t *testing.T) {
	var evs []event.Event
	for i := range 300 {
		fi := probes.FlowInfo{ID: uint32(10 + i), Iface: "eth0", Proto: "tcp", Src: "10.0.0.5:443", Dst: "10.0.0.1:" + itoa(40000+i)}
		evs = append(evs, batches(fi, probes.FlagRST|probes.FlagACK, t0.Add(time.Duration(i)*3*time.Millisecond))...)
	}
	got := findingsNamed(evs, FindingPacketRSTStorm)
	if len(got) != 1 {
		t.Fatalf("want one rst_storm, got %d", len(got))
	}
	if d := got[0].Data.(PacketRSTStormData); d.Host != "10.0.0.5" || d.RSTPerS != RSTStormPerSecond || d.Flow != "" {
		t.Errorf("data %+v", d)
	}
}

func TestKernelDrops(t *testing.T) {
	st := func(s int, pk, dr uint64) event.Event {
		return event.New(t0.Add(time.Duration(s)*time.Second), "packets",
			&probes.CaptureStats{Iface: "eth0", IntervalS: 1, Packets: pk, Drops: dr})
	}
	evs := []event.Event{st(1, 1000, 0), st(2, 1000, 127), st(3, 1000, 5), st(70, 1000, 1)}
	got := findingsNamed(evs, FindingPacketDrops)
	// Raised at the first drops; a minute without ends it (a clear with
	// the totals so far); the drops at 70 s are a new finding.
	if !slices.Equal(states(got...), []string{"raise", "cleared", "raise"}) {
		t.Fatalf("want a finding, its clear and a new one, got %v", states(got...))
	}
	if d := got[0].Data.(PacketDropsData); d != (PacketDropsData{Iface: "eth0", Drops: 127, Packets: 2000}) || got[0].Key != "packet.drops eth0" {
		t.Errorf("data %+v key %q", d, got[0].Key)
	}
	if d := got[1].Data.(PacketDropsData); d.Drops != 132 || got[1].Count != 2 {
		t.Errorf("clear %+v", got[1])
	}

	// Dropping every second for three minutes: updated when the total
	// doubles (10 s apart at least) and once a minute, not every second.
	evs = nil
	for s := 1; s <= 180; s++ {
		evs = append(evs, st(s, 1000, 10))
	}
	got = findingsNamed(evs, FindingPacketDrops)
	var at []int
	for _, f := range got {
		at = append(at, int(f.Data.(PacketDropsData).Packets/1000))
	}
	if !slices.Equal(at, []int{1, 11, 22, 44, 88, 148}) || got[len(got)-1].Count != 148 {
		t.Errorf("updates at %v s", at)
	}
}

// A host resetting hundreds of connections a second for two minutes is one
// packet.rst_storm: raised at the 100th RST of the first second, refreshed
// once a minute, cleared a minute after its last storming second.
func TestRSTStormLastingIsOneFinding(t *testing.T) {
	fi := probes.FlowInfo{ID: 7, Iface: "eth0", Proto: "tcp", Src: "10.0.0.5:443", Dst: "10.0.0.1:40000"}
	var evs []event.Event
	for s := range 120 {
		for i := range 150 {
			evs = append(evs, batches(fi, probes.FlagRST, t0.Add(time.Duration(s)*time.Second+time.Duration(i)*5*time.Millisecond))...)
		}
	}
	evs = append(evs, event.New(t0.Add(200*time.Second), "packets", &probes.CaptureStats{Iface: "eth0", IntervalS: 1, Packets: 1}))
	got := findingsNamed(evs, FindingPacketRSTStorm)
	if !slices.Equal(states(got...), []string{"raise", "update", "cleared"}) {
		t.Fatalf("got %v", states(got...))
	}
	if got[2].Count != 120 || got[2].Key != "packet.rst_storm eth0 10.0.0.5" || got[0].Data.(PacketRSTStormData).Flow != fi.String() {
		t.Errorf("clear %+v, raise %+v", got[2], got[0].Data)
	}
}

func TestFlowTableStaysBounded(t *testing.T) {
	d := NewPackets().(*packets)
	for i := range 3 * probes.MaxTrackedFlows {
		fi := probes.FlowInfo{ID: uint32(i + 1), Iface: "eth0", Proto: "udp", Src: "10.0.0.1:1", Dst: "10.0.0.2:2"}
		for _, ev := range batches(fi, 0, t0.Add(time.Duration(i)*time.Millisecond)) {
			d.Observe(ev)
		}
	}
	if n := d.flows.Len(); n > probes.MaxTrackedFlows {
		t.Fatalf("%d flows tracked, cap %d", n, probes.MaxTrackedFlows)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
