package findings

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

var vrrp = packet.FlowInfo{ID: 1, Iface: "veth1", Proto: "vrrp", Src: "10.9.0.1", Dst: "224.0.0.18"}

// batches turns packet times into one "packets" event per packet, after
// the flow's "flow" event.
func batches(fi packet.FlowInfo, flags uint8, at ...time.Time) []event.Event {
	evs := []event.Event{event.New(at[0], "packets", &fi)}
	for _, t := range at {
		evs = append(evs, event.New(t, "packets", &packet.PacketBatch{Iface: fi.Iface, Start: t,
			DtUs: []int64{0}, Flow: []uint32{fi.ID}, Flags: packet.ByteNums{flags}, Len: []uint32{54}}))
	}
	return evs
}

func findingsNamed(evs []event.Event, name string) []*event.Finding {
	var out []*event.Finding
	for _, ev := range Run([]Detector{NewPackets()}, evs) {
		if f, _ := event.As[event.Finding](ev); f.Finding == name {
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

// gapEvents are the packet.gap events (raise, updates, cleared) of a run,
// with their times.
func gapEvents(t *testing.T, evs []event.Event) (out []event.Event) {
	t.Helper()
	for _, ev := range Run([]Detector{NewPackets()}, evs) {
		if f, _ := event.As[event.Finding](ev); f.Finding == FindingPacketGap {
			out = append(out, ev)
			t.Logf("%s %-7s %-8s %s", ev.Time.Format("15:04:05.000000"), f.State, f.Severity, f.Summary)
		}
	}
	return out
}

func gapOf(ev event.Event) (*event.Finding, PacketGapData) {
	f, _ := event.As[event.Finding](ev)
	return f, f.Data.(PacketGapData)
}

// ticks are the capture_stats an idle interface sends once a second, from
// t0+first, each saying its packets are all known up to its time.
func ticks(iface string, first time.Duration, n int) []event.Event {
	var evs []event.Event
	for i := range n {
		at := t0.Add(first + time.Duration(i)*time.Second)
		evs = append(evs, event.New(at, "packets", &packet.CaptureStats{Iface: iface, IntervalS: 1, Through: at}))
	}
	return evs
}

// inTimeOrder merges event streams as the engine would hand them over.
func inTimeOrder(streams ...[]event.Event) []event.Event {
	var all []event.Event
	for _, s := range streams {
		all = append(all, s...)
	}
	slices.SortStableFunc(all, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	return all
}

// upTo is 0, 1, … n: n+1 adverts a second apart (12 intervals are needed
// to learn a period).
func upTo(n int, more ...float64) []float64 {
	var out []float64
	for i := 0; i <= n; i++ {
		out = append(out, float64(i))
	}
	return append(out, more...)
}

func secs(ss ...float64) []time.Time {
	out := make([]time.Time, len(ss))
	for i, s := range ss {
		out[i] = t0.Add(time.Duration(s * float64(time.Second)))
	}
	return out
}

// TestVRRPGapRaisedWhileSilent: 1 s adverts with a 3.5 s hole. The gap is
// raised during the hole, from the capture_stats clock (3.3 s into it:
// the first tick past 2.5 s), and cleared by the next advert with the whole
// 3.5 s, critical: long enough for the backup to take over.
func TestVRRPGapRaisedWhileSilent(t *testing.T) {
	got := gapEvents(t, inTimeOrder(batches(vrrp, 0, secs(upTo(15, 18.5, 19.5, 20.5, 21.5)...)...), ticks("veth1", 300*time.Millisecond, 22)))
	if len(got) != 2 {
		t.Fatalf("want a raise and a clear, got %d", len(got))
	}
	raise, rd := gapOf(got[0])
	if raise.State != "" || !got[0].Time.Equal(t0.Add(18300*time.Millisecond)) || rd.GapMs != 3300 || rd.Resumed ||
		raise.Severity != event.Warn || !strings.HasSuffix(raise.Summary, "no packet for 3.3 s, usually 1.0 s; still silent") {
		t.Errorf("raise at %v: %+v %+v", got[0].Time, raise, rd)
	}
	clr, cd := gapOf(got[1])
	if clr.State != event.FindingCleared || !got[1].Time.Equal(t0.Add(18500*time.Millisecond)) || cd.GapMs != 3500 || !cd.Resumed ||
		clr.Severity != event.Critical || cd.UsualMs != 1000 || !clr.Since.Equal(got[0].Time) || clr.Count != 1 {
		t.Errorf("clear at %v: %+v %+v", got[1].Time, clr, cd)
	}
	if cd.Flow != "10.9.0.1 > 224.0.0.18" || cd.Proto != "vrrp" || cd.Iface != "veth1" {
		t.Errorf("data %+v", cd)
	}
	if raise.Key != "packet.gap veth1 vrrp 10.9.0.1 > 224.0.0.18" || clr.Key != raise.Key {
		t.Errorf("keys %q, %q", raise.Key, clr.Key)
	}
	b, _ := json.Marshal(got[1])
	t.Logf("%s", b)
}

// TestGapFromPacketsAlone: a capture file (no capture_stats) has only its
// packets for a clock. The hole is raised when the next packet's batch
// shows it, then cleared by that packet, critical with the whole gap.
func TestGapFromPacketsAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	before := every(t0, time.Second, 16, 20*time.Millisecond, rng)
	after := every(before[15].Add(3500*time.Millisecond), time.Second, 6, 20*time.Millisecond, rng)
	got := gapEvents(t, batches(vrrp, 0, append(before, after...)...))
	if len(got) != 2 {
		t.Fatalf("want a raise and a clear, got %d", len(got))
	}
	if f, _ := gapOf(got[0]); f.State != "" {
		t.Errorf("first event %+v", f)
	}
	f, d := gapOf(got[1])
	if f.State != event.FindingCleared || d.GapMs < 3460 || d.GapMs > 3540 || d.UsualMs < 980 || d.UsualMs > 1020 || !d.Resumed || f.Severity != event.Critical {
		t.Errorf("clear %+v %+v", f, d)
	}
}

// TestGapOfAFlowThatNeverComesBack: the adverts stop for good (the master
// died). The gap is raised 3.3 s in, turns critical while still silent at
// the next tick, is updated only as the silence doubles, and is cleared,
// still silent and critical, when the capture ends.
func TestGapOfAFlowThatNeverComesBack(t *testing.T) {
	got := gapEvents(t, inTimeOrder(batches(vrrp, 0, secs(upTo(15)...)...), ticks("veth1", 300*time.Millisecond, 70)))
	var raises, updates int
	var critical time.Time
	for _, ev := range got {
		f, d := gapOf(ev)
		switch f.State {
		case "":
			raises++
		case event.FindingUpdate:
			updates++
		}
		if f.Key != gapKey(vrrp) || f.State != "" && (!f.Since.Equal(got[0].Time) || f.Count != 1) || d.Resumed {
			t.Errorf("event %+v %+v", f, d)
		}
		if f.Severity == event.Critical && critical.IsZero() {
			critical = ev.Time
		}
	}
	if raises != 1 || updates < 2 || updates > 6 {
		t.Errorf("%d raises and %d updates over a minute of silence; want one raise and a few updates", raises, updates)
	}
	// Critical within two periods of the 2.5 s threshold, while silent.
	if last := t0.Add(15 * time.Second); critical.IsZero() || critical.Sub(last) > 4500*time.Millisecond {
		t.Errorf("critical at %v, %v after the last advert", critical, critical.Sub(last))
	}
	end, d := gapOf(got[len(got)-1])
	if end.State != event.FindingCleared || d.Resumed || end.Severity != event.Critical || d.GapMs != 54300 ||
		!strings.HasSuffix(end.Summary, "still silent when the capture ended") {
		t.Errorf("end %+v %+v", end, d)
	}
}

// TestGapFlaps: two holes, two conditions: each raised and cleared, the
// second counted as the key's second.
func TestGapFlaps(t *testing.T) {
	at := secs(upTo(15, 18.5, 19.5, 20.5, 21.5, 22.5, 23.5, 27.5, 28.5, 29.5)...)
	got := gapEvents(t, inTimeOrder(batches(vrrp, 0, at...), ticks("veth1", 300*time.Millisecond, 30)))
	var states []string
	for _, ev := range got {
		if f, _ := gapOf(ev); f.State != event.FindingUpdate {
			states = append(states, f.State+"/"+strconv.Itoa(f.Count))
		}
	}
	if strings.Join(states, " ") != "/0 cleared/1 /0 cleared/2" {
		t.Errorf("states %v, want raise, clear, raise, clear (×2)", states)
	}
	if _, d := gapOf(got[len(got)-1]); d.GapMs != 4000 || !d.Resumed {
		t.Errorf("second gap %+v", d)
	}
}

// TestBurstyFlowHasItsBurstPeriod: 30 packets every 0.5 s is periodic at
// 0.5 s, not at the spacing inside a burst: a minute of it raises nothing
// (it used to raise "501 ms without a packet, usually 0 ms" 48 times), and
// when it stops the gap says "usually 500 ms".
func TestBurstyFlowHasItsBurstPeriod(t *testing.T) {
	for _, spacing := range []time.Duration{20 * time.Microsecond, time.Millisecond, 8 * time.Millisecond} {
		fi := packet.FlowInfo{ID: 7, Iface: "eth0", Proto: "udp", Src: "10.0.0.7:4000", Dst: "10.0.0.8:4000"}
		evs := []event.Event{event.New(t0, "packets", &fi)}
		for burst := range 120 {
			b := &packet.PacketBatch{Iface: "eth0", Start: t0.Add(time.Duration(burst) * 500 * time.Millisecond)}
			for i := range 30 {
				b.DtUs = append(b.DtUs, map[bool]int64{true: 0, false: spacing.Microseconds()}[i == 0])
				b.Flow, b.Flags, b.Len = append(b.Flow, 7), append(b.Flags, 0), append(b.Len, 200)
			}
			evs = append(evs, event.New(b.Start.Add(29*spacing), "packets", b))
		}
		d := NewPackets().(*packets)
		var got []event.Event
		for _, ev := range inTimeOrder(evs, ticks("eth0", 100*time.Millisecond, 60)) {
			got = append(got, d.Observe(ev)...)
		}
		if len(got) != 0 {
			f, _ := event.As[event.Finding](got[0])
			t.Fatalf("spacing %v: %d findings, first %q", spacing, len(got), f.Summary)
		}
		if usual, periodic := d.flows.Get(7).Usual(d.flows.Rule); !periodic || usual != 500*time.Millisecond {
			t.Errorf("spacing %v: usual %v periodic %v", spacing, usual, periodic)
		}
		for _, ev := range ticks("eth0", 60100*time.Millisecond, 3) {
			got = append(got, d.Observe(ev)...)
		}
		if len(got) == 0 {
			t.Fatalf("spacing %v: stopped bursts raised nothing", spacing)
		}
		if f, gd := gapOf(got[0]); gd.UsualMs != 500 || f.State != "" {
			t.Errorf("spacing %v: %+v", spacing, gd)
		}
	}
}

// TestClosedConnectionIsNoGap: a TCP connection with 1 s keepalives that
// closes (FIN) is silent afterwards, and that is not a gap.
func TestClosedConnectionIsNoGap(t *testing.T) {
	fi := packet.FlowInfo{ID: 4, Iface: "eth0", Proto: "tcp", Src: "10.0.0.4:5000", Dst: "10.0.0.5:6000"}
	evs := batches(fi, packet.FlagACK, secs(upTo(15)...)...)
	evs = append(evs, batches(fi, packet.FlagFIN|packet.FlagACK, secs(15.2)...)[1:]...)
	evs = append(evs, batches(fi, packet.FlagACK, secs(15.21)...)[1:]...)
	if got := gapEvents(t, inTimeOrder(evs, ticks("eth0", 0, 40))); len(got) != 0 {
		t.Errorf("a closed connection raised %d packet.gap events", len(got))
	}
}

// TestSilenceIsJudgedOnItsOwnInterface: another interface's clock, and a
// capture_stats whose batch-in-progress holds the advert (Through before
// it), never make a silence out of a packet still on its way.
func TestSilenceIsJudgedOnItsOwnInterface(t *testing.T) {
	evs := inTimeOrder(batches(vrrp, 0, secs(upTo(15)...)...), ticks("eth0", 300*time.Millisecond, 22))
	// veth1's tick at 17.6 s: its batch since 17.45 s is not out yet.
	evs = append(evs, event.New(t0.Add(17600*time.Millisecond), "packets",
		&packet.CaptureStats{Iface: "veth1", IntervalS: 1, Through: t0.Add(17450 * time.Millisecond)}))
	evs = append(evs, batches(vrrp, 0, secs(17.48)...)[1:]...)
	if got := gapEvents(t, evs); len(got) != 0 {
		t.Fatalf("%d packet.gap events for a 2.48 s silence", len(got))
	}
}

// TestPeriodicFlowKeepsItsPeriodThroughAFlood: 3× the table's cap of other
// flows, each newer than the advert before it, come while a 1 s flow runs
// and pauses 3.5 s. The flow keeps its learned period, so its pause is
// raised and cleared, naming its 5-tuple, and the table stays bounded.
func TestPeriodicFlowKeepsItsPeriodThroughAFlood(t *testing.T) {
	evs := batches(vrrp, 0, secs(upTo(18, 21.5, 22.5, 23.5)...)...)
	const flood = 3 * packet.MaxTrackedFlows
	for i := range flood {
		at := t0.Add(15500*time.Millisecond + time.Duration(i)*7500*time.Millisecond/flood)
		fi := packet.FlowInfo{ID: uint32(1000 + i), Iface: "veth1", Proto: "udp", Src: "10.9.0.7:" + itoa(1024+i%60000), Dst: "10.9.0.9:9"}
		evs = append(evs, batches(fi, 0, at)...)
	}
	d := NewPackets().(*packets)
	var got []event.Event
	for _, ev := range inTimeOrder(evs, ticks("veth1", 300*time.Millisecond, 24)) {
		for _, f := range d.Observe(ev) {
			if fi, _ := event.As[event.Finding](f); fi.Finding == FindingPacketGap {
				got = append(got, f)
			}
		}
	}
	if n := d.flows.Len(); n > packet.MaxTrackedFlows {
		t.Errorf("%d flows tracked, cap %d", n, packet.MaxTrackedFlows)
	}
	if len(got) != 2 {
		t.Fatalf("want the pause raised and cleared, got %d events", len(got))
	}
	f, gd := gapOf(got[1])
	if f.State != event.FindingCleared || gd.GapMs != 3500 || gd.Flow != "10.9.0.1 > 224.0.0.18" || gd.UsualMs != 1000 {
		t.Errorf("%+v %+v", f, gd)
	}
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
	ssh := packet.FlowInfo{ID: 2, Iface: "eth0", Proto: "tcp", Src: "10.0.0.1:22", Dst: "10.0.0.9:50000"}
	if got := findingsNamed(batches(ssh, packet.FlagACK|packet.FlagPSH, times...), FindingPacketGap); len(got) != 0 {
		t.Fatalf("irregular traffic fired %d gaps: %+v", len(got), got[0])
	}
}

func TestStallThenResetFires(t *testing.T) {
	fi := packet.FlowInfo{ID: 3, Iface: "eth0", Proto: "tcp", Src: "10.0.0.2:8080", Dst: "10.0.0.1:40000"}
	evs := batches(fi, packet.FlagSYN|packet.FlagACK, t0)
	evs = append(evs, batches(fi, packet.FlagRST, t0.Add(2300*time.Millisecond))[1:]...)
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
	quick := batches(fi, packet.FlagSYN, t0)
	quick = append(quick, batches(fi, packet.FlagRST, t0.Add(time.Millisecond))[1:]...)
	if got := findingsNamed(quick, FindingPacketStallReset); len(got) != 0 {
		t.Errorf("immediate reset fired: %+v", got)
	}
}

func TestRSTStorm(t *testing.T) {
	var evs []event.Event
	for i := range 300 {
		fi := packet.FlowInfo{ID: uint32(10 + i), Iface: "eth0", Proto: "tcp", Src: "10.0.0.5:443", Dst: "10.0.0.1:" + itoa(40000+i)}
		evs = append(evs, batches(fi, packet.FlagRST|packet.FlagACK, t0.Add(time.Duration(i)*3*time.Millisecond))...)
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
			&packet.CaptureStats{Iface: "eth0", IntervalS: 1, Packets: pk, Drops: dr})
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
	fi := packet.FlowInfo{ID: 7, Iface: "eth0", Proto: "tcp", Src: "10.0.0.5:443", Dst: "10.0.0.1:40000"}
	var evs []event.Event
	for s := range 120 {
		for i := range 150 {
			evs = append(evs, batches(fi, packet.FlagRST, t0.Add(time.Duration(s)*time.Second+time.Duration(i)*5*time.Millisecond))...)
		}
	}
	evs = append(evs, event.New(t0.Add(200*time.Second), "packets", &packet.CaptureStats{Iface: "eth0", IntervalS: 1, Packets: 1}))
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
	for i := range 3 * packet.MaxTrackedFlows {
		fi := packet.FlowInfo{ID: uint32(i + 1), Iface: "eth0", Proto: "udp", Src: "10.0.0.1:1", Dst: "10.0.0.2:2"}
		for _, ev := range batches(fi, 0, t0.Add(time.Duration(i)*time.Millisecond)) {
			d.Observe(ev)
		}
	}
	if n := d.flows.Len(); n > packet.MaxTrackedFlows {
		t.Fatalf("%d flows tracked, cap %d", n, packet.MaxTrackedFlows)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
