package findings

import (
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
)

func ctAt(s int, count, maxN uint64, drop uint64) event.Event {
	return event.New(kt0.Add(time.Duration(s)*time.Second), "conntrack",
		&probes.ConntrackSample{Count: count, Max: maxN, IntervalS: 1, Drop: drop})
}

func ctFindings(evs []event.Event, name string) []*event.Finding {
	var out []*event.Finding
	for _, ev := range evs {
		if f, ok := event.AsFinding(ev); ok && f.Finding == name {
			out = append(out, f)
		}
	}
	return out
}

// 80% of max fires a warning once; 95% turns it critical once more.
func TestConntrackPressureAtEightyPercent(t *testing.T) {
	d := NewConntrack()
	var got []event.Event
	for s, n := range []uint64{50000, 52000, 52500, 52600, 52400, 62300, 62400} {
		got = append(got, d.Observe(ctAt(s*30, n, 65536, 0))...)
	}
	fs := ctFindings(got, FindingConntrackPressure)
	if len(fs) != 2 {
		t.Fatalf("%d findings: %+v", len(fs), got)
	}
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
	onlyFinding(t, d.Observe(kmsgAt(200, "nf_conntrack: table full, dropping packet.")), FindingConntrackDropping)
}
