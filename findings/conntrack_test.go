package findings

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func ctAt(s int, count, maxN uint64, drop uint64) event.Event {
	return event.New(kt0.Add(time.Duration(s)*time.Second), "conntrack",
		&schema.ConntrackSample{Count: count, Max: maxN, IntervalS: 1, Drop: drop})
}

func ctFindings(evs []event.Event, name string) []*event.Finding {
	var out []*event.Finding
	for _, ev := range evs {
		if f, ok := event.As[event.Finding](ev); ok && f.Finding == name {
			out = append(out, f)
		}
	}
	return out
}

// 80% of max raises a warning; 95% updates it to critical at once.
func TestConntrackPressureAtEightyPercent(t *testing.T) {
	d := NewConntrack()
	var got []event.Event
	for s, n := range []uint64{50000, 52000, 52500, 52600, 52400, 62300, 62400} {
		got = append(got, d.Observe(ctAt(s*30, n, 65536, 0))...)
	}
	fs := ctFindings(got, FindingConntrackPressure)
	// Between them, at 90 s, the time to full went from 5 min to 22 min,
	// out of the 10 minutes that matter: material, an update.
	if !slices.Equal(states(fs...), []string{"raise", "update", "update"}) {
		t.Fatalf("%d findings: %+v", len(fs), got)
	}
	fs = []*event.Finding{fs[0], fs[2]}
	data := fs[0].Data.(ConntrackPressureData)
	// 52000/65536 = 79.3% does not fire; 52500/65536 = 80.1% does.
	if fs[0].Severity != event.Warn || data.Count != 52500 || data.Max != 65536 || data.Ratio != 0.8 {
		t.Errorf("first %+v %+v", fs[0], data)
	}
	if fs[1].Severity != event.Critical || !strings.Contains(fs[1].Summary, "95% full (62300 of 65536)") {
		t.Errorf("second %+v", fs[1])
	}
}

// Growing 100 entries/s with 30000 left is full in 300 s: under ten minutes,
// so it fires at 50% already, with the ETA.
func TestConntrackPressureTrend(t *testing.T) {
	d := NewConntrack()
	var got []event.Event
	for s := 0; s <= 20; s++ {
		got = append(got, d.Observe(ctAt(s, 30000+uint64(s)*100, 65536, 0))...)
	}
	fs := ctFindings(got, FindingConntrackPressure)
	if len(fs) != 1 || fs[0].Severity != event.Warn {
		t.Fatalf("findings %+v", got)
	}
	data := fs[0].Data.(ConntrackPressureData)
	// First fires at s=10 (count 31000): (65536-31000)/100 = 345.36 s.
	if data.ETAS == nil || *data.ETAS != 345.36 || data.Count != 31000 {
		t.Errorf("data %+v eta %v", data, data.ETAS)
	}
	if !strings.Contains(fs[0].Summary, "full in 6 min") {
		t.Errorf("summary %q", fs[0].Summary)
	}
	// A flat table never fires.
	d = NewConntrack()
	for s := 0; s <= 100; s++ {
		if f := d.Observe(ctAt(s, 30000, 65536, 0)); len(f) > 0 {
			t.Fatalf("flat table fired %+v", f)
		}
	}
}

func TestConntrackDroppingFromCountersAndKmsg(t *testing.T) {
	d := NewConntrack()
	got := d.Observe(ctAt(0, 65536, 65536, 0))
	got = append(got, d.Observe(ctAt(1, 65536, 65536, 40))...)
	fs := ctFindings(got, FindingConntrackDropping)
	if len(fs) != 1 || fs[0].Data.(ConntrackDroppingData).Drops != 40 || fs[0].Data.(ConntrackDroppingData).Source != "counters" {
		t.Fatalf("counters: %+v", got)
	}
	// The kernel's own line during the same episode adds nothing new.
	if f := d.Observe(kmsgAt(2, "nf_conntrack: table full, dropping packet")); len(f) != 0 {
		t.Errorf("kmsg in the same episode fired: %+v", f)
	}
	// On a host where only the log says it (the SoundCloud story), it fires.
	d = NewConntrack()
	f := onlyFinding(t, d.Observe(kmsgAt(0, "nf_conntrack: table full, dropping packet.")), FindingConntrackDropping)
	if f.Severity != event.Critical || f.Data.(ConntrackDroppingData).Source != "kmsg" {
		t.Errorf("kmsg: %+v", f)
	}
	if f := d.Observe(kmsgAt(0.1, "nf_conntrack: table full, dropping packet.")); len(f) != 0 {
		t.Errorf("repeat fired")
	}
	// A quiet minute ends the episode, seen by whatever event comes next:
	// a clear (with both lines counted), then the new line is a new finding.
	got = d.Observe(kmsgAt(200, "nf_conntrack: table full, dropping packet."))
	fs = ctFindings(got, FindingConntrackDropping)
	if len(fs) != 2 || fs[0].State != event.FindingCleared || fs[0].Count != 2 || fs[1].State != "" || fs[1].Key != "conntrack.dropping" {
		t.Fatalf("after a quiet minute: %+v", got)
	}
}

// Drops every few seconds for five minutes, by both sources: one
// condition, refreshed once a minute, cleared a minute after the last drop
// by any event (here an I/O sample: the conntrack probe may be gone).
func TestConntrackDroppingOneConditionUntilQuiet(t *testing.T) {
	d := NewConntrack()
	var got []event.Event
	for s := 0; s < 300; s += 3 {
		got = append(got, d.Observe(ctAt(s, 65536, 65536, uint64(10+s%7)))...)
		got = append(got, d.Observe(kmsgAt(float64(s)+0.5, "nf_conntrack: table full, dropping packet"))...)
	}
	got = append(got, d.Observe(ctAt(330, 65000, 65536, 0))...)
	got = append(got, d.Observe(event.New(kt0.Add(357*time.Second), "iostat", &schema.IOSample{IntervalS: 1}))...)
	if f := ctFindings(got, FindingConntrackDropping); len(f) != 5 || f[4].State == event.FindingCleared {
		t.Fatalf("before the quiet minute: %v", states(f...))
	}
	got = d.Observe(event.New(kt0.Add(357*time.Second+500*time.Millisecond), "iostat", &schema.IOSample{IntervalS: 1}))
	if f := ctFindings(got, FindingConntrackDropping); len(f) != 1 || f[0].State != event.FindingCleared || f[0].Count != 200 {
		t.Fatalf("after it: %+v", got)
	}
}

// A table filling steadily from 80% to 94% over ten minutes, samples every
// second: one warning refreshed once a minute (and when its time to full
// crosses 10 minutes), not one per sample; critical at 95%; cleared below
// 70%; raised again.
func TestConntrackPressureUpdatesAndClears(t *testing.T) {
	d := NewConntrack()
	var got []event.Event
	for s := 0; s < 600; s++ {
		got = append(got, d.Observe(ctAt(s, 52500+uint64(s)*15, 65536, 0))...)
	}
	got = append(got, d.Observe(ctAt(600, 62300, 65536, 0))...)
	got = append(got, d.Observe(ctAt(601, 40000, 65536, 0))...)
	got = append(got, d.Observe(ctAt(602, 60000, 65536, 0))...)
	fs := ctFindings(got, FindingConntrackPressure)
	st := states(fs...)
	if len(st) < 5 || st[0] != "raise" || !slices.Equal(st[len(st)-3:], []string{"update", "cleared", "raise"}) ||
		fs[len(fs)-3].Severity != event.Critical {
		t.Fatalf("got %v", st)
	}
	if len(st) > 15 {
		t.Errorf("%d findings for one steady fill", len(st))
	}
}
