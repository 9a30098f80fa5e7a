package findings

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
)

// The VRRP story across three routers: r1 sends adverts (its capture sees
// them leave), r2 and r3 receive them; each host's events carry its name.
var (
	advertOut = packet.FlowInfo{ID: 11, Iface: "eth0", Proto: "vrrp", Src: "10.9.0.1", Dst: "224.0.0.18", Out: true}
	advertR2  = packet.FlowInfo{ID: 22, Iface: "eth1", Proto: "vrrp", Src: "10.9.0.1", Dst: "224.0.0.18"}
	advertR3  = packet.FlowInfo{ID: 33, Iface: "eth2", Proto: "vrrp", Src: "10.9.0.1", Dst: "224.0.0.18"}
)

// onHost is a host's stream: its packets at the given seconds (arriving
// 1 ms after they were sent), its idle interface's capture_stats each
// second for 26 s, every event named with the host.
func onHost(host string, fi packet.FlowInfo, lag time.Duration, at ...float64) []event.Event {
	times := secs(at...)
	for i := range times {
		times[i] = times[i].Add(lag)
	}
	evs := append(batches(fi, 0, times...), ticks(fi.Iface, 300*time.Millisecond, 26)...)
	for i := range evs {
		evs[i].Host = host
	}
	return evs
}

// without is upTo(n) minus some seconds.
func without(n int, drop ...float64) []float64 {
	var out []float64
	for _, s := range upTo(n) {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	return out
}

// crossGaps runs every detector (as a session does) and returns the
// packet.gap events, logged.
func crossGaps(t *testing.T, evs []event.Event) []event.Event {
	t.Helper()
	var out []event.Event
	for _, ev := range Run(All(Config{}), evs) {
		if f, _ := event.As[event.Finding](ev); f != nil && f.Finding == FindingPacketGap {
			out = append(out, ev)
			t.Logf("%s %-3s %-7s %-8s %s", ev.Time.Format("05.000"), ev.Host, f.State, f.Severity, f.Summary)
		}
	}
	return out
}

// gapsBy are the gap events of one host, and the sender notes they carry.
func gapsBy(evs []event.Event, host string) (out []*event.Finding, notes []*GapSender) {
	for _, ev := range evs {
		if ev.Host != host {
			continue
		}
		f, d := gapOf(ev)
		out = append(out, f)
		notes = append(notes, d.Sender)
	}
	return out, notes
}

// oneGap checks that host has exactly one gap condition (one raise, same
// key throughout, a clear last) and that its events carry the sender's
// note: the clear exactly want (nil: no note) and says it in its summary;
// the raise and updates, judged while the silence lasted, the same sender
// and verdict with what was sent so far.
func oneGap(t *testing.T, evs []event.Event, host string, want *GapSender, says string) {
	t.Helper()
	fs, notes := gapsBy(evs, host)
	raised := 0
	for i, f := range fs {
		if f.State == "" {
			raised++
		}
		if f.Key != fs[0].Key {
			t.Errorf("%s: gap events of two conditions: %q, %q", host, fs[0].Key, f.Key)
		}
		n, last := notes[i], i == len(fs)-1
		switch {
		case want == nil && n != nil:
			t.Errorf("%s: %s gap has a sender note %+v, want none", host, f.State, *n)
		case want == nil && strings.Contains(f.Summary, "during the gap"):
			t.Errorf("%s: summary %q", host, f.Summary)
		case want == nil:
		case n == nil || n.Host != want.Host || n.Verdict != want.Verdict || n.Sent > want.Sent || last && n.Sent != want.Sent:
			t.Errorf("%s: %s gap's note %+v, want %+v", host, f.State, n, *want)
		case last && !strings.HasSuffix(f.Summary, "; "+says):
			t.Errorf("%s: summary %q, want it to end %q", host, f.Summary, says)
		case !strings.Contains(f.Summary, "; "+hostName(want.Host)):
			t.Errorf("%s: summary %q does not name the sender", host, f.Summary)
		}
	}
	if raised != 1 || len(fs) < 2 || fs[len(fs)-1].State != event.FindingCleared {
		t.Fatalf("%s: %d gap events, %d raised; want one condition, raised and cleared", host, len(fs), raised)
	}
}

// The master's adverts stop for 3.5 s: its own capture shows it sent
// nothing, so the receivers' gaps say so (and the sender's own silence is
// a gap of its own, with no note).
func TestCrossGapNotSent(t *testing.T) {
	at := upTo(15, 18.5, 19.5, 20.5, 21.5, 22.5, 23.5, 24.5, 25.5)
	got := crossGaps(t, inTimeOrder(onHost("r1", advertOut, 0, at...), onHost("r2", advertR2, time.Millisecond, at...),
		onHost("r3", advertR3, time.Millisecond, at...)))
	notSent := &GapSender{Host: "r1", Verdict: GapNotSent}
	oneGap(t, got, "r2", notSent, "r1 sent nothing during the gap")
	oneGap(t, got, "r3", notSent, "r1 sent nothing during the gap")
	oneGap(t, got, "r1", nil, "")
}

// The adverts go out every second but r2 loses three: r2's gap says r1
// sent 3 packets it never received; r3, which got them all, has no gap,
// and r3 (a receiver too) is never taken for the sender.
func TestCrossGapSentNotReceivedOnOneReceiver(t *testing.T) {
	got := crossGaps(t, inTimeOrder(onHost("r1", advertOut, 0, upTo(25)...), onHost("r2", advertR2, time.Millisecond, without(25, 16, 17, 18)...),
		onHost("r3", advertR3, time.Millisecond, upTo(25)...)))
	oneGap(t, got, "r2", &GapSender{Host: "r1", Sent: 3, Verdict: GapSentNotRecvd}, "r1 sent 3 packets during the gap that r2 never received")
	for _, h := range []string{"r1", "r3"} {
		if fs, _ := gapsBy(got, h); len(fs) != 0 {
			t.Errorf("%s: %d gap events, want none", h, len(fs))
		}
	}
}

// No recorded host sent the flow: the gap is as it always was.
func TestCrossGapSenderNotRecorded(t *testing.T) {
	at := without(25, 16, 17, 18)
	got := crossGaps(t, inTimeOrder(onHost("r2", advertR2, 0, at...), onHost("r3", advertR3, 0, at...)))
	oneGap(t, got, "r2", nil, "")
	oneGap(t, got, "r3", nil, "")
}

// lateBy delivers one host's events d after the others' of the same time,
// as a live session gets a remote stream's: their times are untouched.
func lateBy(d time.Duration, late []event.Event, others ...[]event.Event) []event.Event {
	type item struct {
		ev event.Event
		at time.Time
	}
	var all []item
	for _, ev := range late {
		all = append(all, item{ev, ev.Time.Add(d)})
	}
	for _, s := range others {
		for _, ev := range s {
			all = append(all, item{ev, ev.Time})
		}
	}
	slices.SortStableFunc(all, func(a, b item) int { return a.at.Compare(b.at) })
	out := make([]event.Event, len(all))
	for i, it := range all {
		out[i] = it.ev
	}
	return out
}

// Live, the sender's events come 2 s after the receiver's: the gap waits
// for them and says the same as in a replay, once, with no second finding.
// The sender as the late one, and the receiver as the late one.
func TestCrossGapSenderLateLive(t *testing.T) {
	r1 := onHost("r1", advertOut, 0, upTo(25)...)
	r2 := onHost("r2", advertR2, time.Millisecond, without(25, 16, 17, 18)...)
	lost := &GapSender{Host: "r1", Sent: 3, Verdict: GapSentNotRecvd}
	for name, evs := range map[string][]event.Event{
		"sender late":   lateBy(2*time.Second, r1, r2),
		"receiver late": lateBy(2*time.Second, r2, r1),
		"time order":    inTimeOrder(r1, r2),
	} {
		t.Run(name, func(t *testing.T) {
			oneGap(t, crossGaps(t, evs), "r2", lost, "r1 sent 3 packets during the gap that r2 never received")
		})
	}
}

// The sender's stream stops (its host lost) before the gap: the gap is
// held no longer than gapHold past its time on the session's timeline,
// then says the sender's packets were not seen.
func TestCrossGapSenderNeverSeen(t *testing.T) {
	var r1 []event.Event
	for _, ev := range onHost("r1", advertOut, 0, upTo(25)...) {
		if ev.Time.Before(t0.Add(14500 * time.Millisecond)) {
			r1 = append(r1, ev)
		}
	}
	r2 := onHost("r2", advertR2, time.Millisecond, without(25, 16, 17, 18)...)
	d := All(Config{})
	var got []event.Event
	for _, ev := range inTimeOrder(r1, r2) {
		for _, d := range d {
			for _, f := range d.Observe(ev) {
				if g, _ := event.As[event.Finding](f); g.Finding == FindingPacketGap {
					if late := ev.Time.Sub(f.Time); late > gapHold+time.Second {
						t.Errorf("%s gap of %s went out at %s, %s after its time", g.State, f.Time.Format("05.000"), ev.Time.Format("05.000"), late)
					}
					got = append(got, f)
				}
			}
		}
	}
	if len(got) < 2 {
		t.Errorf("%d gap events went out before the end of the stream, want the raise and the clear: held for good", len(got))
	}
	got = append(got, Finish(d)...)
	oneGap(t, got, "r2", &GapSender{Host: "r1", Verdict: GapSenderUnseen}, "r1's packets for the gap were not seen")
}

// A gap that lasts (raised, critical, doubled, cleared) carries its note
// in each of its events, and the flow's next gap is a condition of its
// own with its own verdict: first r1 sent nothing, then r2 lost them.
func TestCrossGapPersistsFlapsAndClears(t *testing.T) {
	sent := append(upTo(15), 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44)
	recvd := slices.DeleteFunc(slices.Clone(sent), func(s float64) bool { return s >= 30 && s <= 33 })
	r1, r2 := onHost("r1", advertOut, 0, sent...), onHost("r2", advertR2, time.Millisecond, recvd...)
	for _, evs := range [][]event.Event{r1, r2} {
		host := evs[0].Host
		for i := 26; i < 46; i++ {
			tk := ticks(evs[0].Body.(*packet.FlowInfo).Iface, time.Duration(i)*time.Second+300*time.Millisecond, 1)[0]
			tk.Host = host
			evs = append(evs, tk)
		}
		if host == "r1" {
			r1 = evs
		} else {
			r2 = evs
		}
	}
	got := crossGaps(t, inTimeOrder(r1, r2))
	fs, notes := gapsBy(got, "r2")
	var keys []string
	for i, f := range fs {
		if f.State == "" {
			keys = append(keys, fmt.Sprint(f.Count))
		}
		if notes[i] == nil {
			t.Fatalf("%s gap without a note", f.State)
		}
	}
	if len(keys) != 2 {
		t.Fatalf("%d gaps raised on r2, want 2 (a 10 s silence, then 4 lost adverts)", len(keys))
	}
	first := true
	updates := 0
	for i, f := range fs {
		if f.State == event.FindingUpdate && first {
			updates++
		}
		want, n := GapSender{Host: "r1", Verdict: GapNotSent}, *notes[i]
		if !first {
			// While silent it says what was sent so far; cleared, all 4.
			want = GapSender{Host: "r1", Sent: 4, Verdict: GapSentNotRecvd}
			if f.State != event.FindingCleared {
				want.Sent = min(n.Sent, 4)
			}
		}
		if n != want {
			t.Errorf("%s gap (first %v): note %+v, want %+v", f.State, first, *notes[i], want)
		}
		if f.State == event.FindingCleared {
			first = false
		}
	}
	if updates == 0 {
		t.Error("the 10 s silence was never updated (critical, doubled)")
	}
}

// A flow each way between two hosts, each with a hole: r1→r2's stops at
// r1 (not sent), r2→r1's is lost on the way (sent, not received). Each
// gap names the other host as the sender; a host's own sending flow is
// never its own sender.
func TestCrossGapBothDirections(t *testing.T) {
	aOut := packet.FlowInfo{ID: 5, Iface: "eth0", Proto: "udp", Src: "10.9.0.1:7000", Dst: "10.9.0.2:7000", Out: true}
	aIn := packet.FlowInfo{ID: 6, Iface: "eth0", Proto: "udp", Src: "10.9.0.2:7000", Dst: "10.9.0.1:7000"}
	bIn := packet.FlowInfo{ID: 7, Iface: "eth9", Proto: "udp", Src: "10.9.0.1:7000", Dst: "10.9.0.2:7000"}
	bOut := packet.FlowInfo{ID: 8, Iface: "eth9", Proto: "udp", Src: "10.9.0.2:7000", Dst: "10.9.0.1:7000", Out: true}
	ab := without(25, 16, 17, 18)                  // r1 stops sending
	ba, baGot := upTo(25), without(25, 20, 21, 22) // r2 sends, r1 loses three
	r1 := append(onHost("r1", aOut, 0, ab...), onHost("r1", aIn, 2*time.Millisecond, baGot...)...)
	r2 := append(onHost("r2", bIn, time.Millisecond, ab...), onHost("r2", bOut, 0, ba...)...)
	got := crossGaps(t, inTimeOrder(r1, r2))
	byKey := map[string][]event.Event{}
	for _, ev := range got {
		f, _ := gapOf(ev)
		byKey[ev.Host+" "+f.Key] = append(byKey[ev.Host+" "+f.Key], ev)
	}
	check := func(host string, fi packet.FlowInfo, want *GapSender) {
		t.Helper()
		evs := byKey[host+" "+gapKey(fi)]
		if len(evs) < 2 {
			t.Fatalf("%s %s: %d gap events", host, fi, len(evs))
		}
		for i, ev := range evs {
			f, d := gapOf(ev)
			w := want
			if want != nil && i < len(evs)-1 { // so far, while silent
				w = &GapSender{Host: want.Host, Sent: min(d.Sender.Sent, want.Sent), Verdict: want.Verdict}
			}
			if (want == nil) != (d.Sender == nil) || want != nil && *d.Sender != *w {
				t.Errorf("%s %s %s: note %+v, want %+v", host, fi, f.State, d.Sender, want)
			}
		}
	}
	check("r2", bIn, &GapSender{Host: "r1", Verdict: GapNotSent})
	check("r1", aIn, &GapSender{Host: "r2", Sent: 3, Verdict: GapSentNotRecvd})
	check("r1", aOut, nil) // r1's own sending stopped
	if len(byKey) != 3 {
		t.Errorf("%d gap conditions, want 3", len(byKey))
	}
}

// A router between r1 and r2 forwards the adverts (it has them coming in
// on one interface and going out on another): r1, which only sends them,
// is the sender r2's gap names.
func TestCrossGapPrefersTheOriginToAForwarder(t *testing.T) {
	at := upTo(15, 18.5, 19.5, 20.5, 21.5, 22.5, 23.5, 24.5, 25.5)
	fwIn := packet.FlowInfo{ID: 44, Iface: "up0", Proto: "vrrp", Src: "10.9.0.1", Dst: "224.0.0.18"}
	fwOut := packet.FlowInfo{ID: 45, Iface: "down0", Proto: "vrrp", Src: "10.9.0.1", Dst: "224.0.0.18", Out: true}
	fw := append(onHost("fw", fwOut, time.Millisecond, at...), onHost("fw", fwIn, time.Millisecond/2, at...)...)
	// The forwarder is heard first, so first seen is not what decides.
	got := crossGaps(t, inTimeOrder(fw, onHost("r1", advertOut, 0, at...), onHost("r2", advertR2, 2*time.Millisecond, at...)))
	oneGap(t, got, "r2", &GapSender{Host: "r1", Verdict: GapNotSent}, "r1 sent nothing during the gap")
	// The forwarder's own gaps, coming in and going out, are the origin's.
	for _, ev := range got {
		if _, d := gapOf(ev); ev.Host == "fw" && (d.Sender == nil || d.Sender.Host != "r1") {
			t.Errorf("fw's gap on %s: note %+v, want r1's", d.Iface, d.Sender)
		}
	}
}

// The local host ("" in a live session) is named in words.
func TestCrossGapNamesTheLocalHost(t *testing.T) {
	got := crossGaps(t, inTimeOrder(onHost("", advertOut, 0, upTo(25)...), onHost("r2", advertR2, time.Millisecond, without(25, 16, 17, 18)...)))
	oneGap(t, got, "r2", &GapSender{Host: "", Sent: 3, Verdict: GapSentNotRecvd}, "this host sent 3 packets during the gap that r2 never received")
}

// The ring counts bursts' packets in a window, a straddling burst in part,
// and knows when it no longer reaches back far enough.
func TestBurstRingCounts(t *testing.T) {
	var r burstRing
	for s := range 20 { // 20 bursts of 3 packets 10 ms apart, a second apart
		for k := range 3 {
			r.add(int64(s)*1e6 + int64(k)*10e3)
		}
	}
	if n, whole := r.count(5.5e6, 9.5e6); n != 12 || !whole {
		t.Errorf("4 whole bursts: %d, %v", n, whole)
	}
	if n, whole := r.count(10.015e6, 12.5e6); n != 1+6 || !whole {
		t.Errorf("a straddled burst and two whole ones: %d, %v", n, whole)
	}
	if n, whole := r.count(0, 19.5e6); n != 16*3 || whole {
		t.Errorf("past the ring's reach: %d, %v; want the 16 bursts kept, and not whole", n, whole)
	}
}

// A host's flows are bounded: past maxHostFlows the least recently
// announced is forgotten, and a flow another host still has stays known.
// A flow whose last host forgot it is forgotten too.
func TestCrossFlowsAreBoundedPerHost(t *testing.T) {
	c := newCrossPackets()
	announce := func(host string, id int, out bool) {
		ev := event.New(t0, "packets", &packet.FlowInfo{ID: uint32(id), Iface: "eth0", Proto: "udp",
			Src: fmt.Sprintf("10.0.0.1:%d", id), Dst: "10.0.0.2:9", Out: out})
		ev.Host = host
		c.Observe(ev)
	}
	announce("r2", 1, false) // r2 receives flow 1 …
	for id := 1; id <= maxHostFlows+100; id++ {
		announce("r1", id, true) // … which r1 sends, among many
	}
	r1 := c.hosts["r1"]
	if r1.n != maxHostFlows || len(r1.sends) != maxHostFlows {
		t.Fatalf("r1 follows %d flows (%d sent), want %d", r1.n, len(r1.sends), maxHostFlows)
	}
	// Flows 1-100 went first: r2 still has 1, so it is known, without r1.
	x := c.flows["udp 10.0.0.1:1 > 10.0.0.2:9"]
	if x == nil || len(x.members) != 1 || x.members[0].host.name != "r2" || x.nIn != 1 {
		t.Fatalf("flow 1 after r1 forgot it: %+v", x)
	}
	if c.flows["udp 10.0.0.1:2 > 10.0.0.2:9"] != nil {
		t.Error("flow 2, which no host has any more, is still known")
	}
	if len(c.flows) != maxHostFlows+1 || len(r1.rings) != 0 {
		t.Errorf("%d flows known, %d rings; want %d and none (r2 never received the others)", len(c.flows), len(r1.rings), maxHostFlows+1)
	}
	announce("r1", 1, true) // back: forgetting one makes room, and r2 receives it, so a ring
	if s := c.flows["udp 10.0.0.1:1 > 10.0.0.2:9"].member(r1); s == nil || s.ring == nil || r1.n != maxHostFlows {
		t.Errorf("flow 1 sent again: member %+v, r1 follows %d", s, r1.n)
	}
}
