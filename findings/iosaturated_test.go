package findings

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

var t0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

// script builds one 1-second sample per entry; entry i ends at t0+i+1 s.
// A nil entry is a quiet second (no device had I/O, so none is listed).
func script(samples ...[]schema.DeviceIO) []event.Event {
	evs := make([]event.Event, len(samples))
	for i, devs := range samples {
		evs[i] = event.New(t0.Add(time.Duration(i+1)*time.Second), "iostat",
			&schema.IOSample{IntervalS: 1, Devices: devs})
	}
	return evs
}

func repeat(n int, devs ...schema.DeviceIO) [][]schema.DeviceIO {
	out := make([][]schema.DeviceIO, n)
	for i := range out {
		out[i] = devs
	}
	return out
}

// quiet is n seconds in which no device had I/O.
func quiet(n int) [][]schema.DeviceIO { return make([][]schema.DeviceIO, n) }

func cat(parts ...[][]schema.DeviceIO) [][]schema.DeviceIO {
	var out [][]schema.DeviceIO
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// writes is a device doing 100 writes/s at the given await, queue and util.
func writes(dev string, awaitMs, aqu, util float64) schema.DeviceIO {
	return schema.DeviceIO{Device: dev, WPerS: 100, WKBPerS: 6400, WAwaitMs: awaitMs, AquSz: aqu, UtilPct: util}
}

func detect(evs []event.Event) []*event.Finding {
	var out []*event.Finding
	for _, ev := range Run([]Detector{NewIOSaturated()}, evs) {
		f, _ := event.As[event.Finding](ev)
		out = append(out, f)
	}
	return out
}

func TestSustainedFiresOnceWithData(t *testing.T) {
	sdb := writes("sdb", 180, 12.3, 99)
	evs := script(cat(repeat(7, sdb, writes("sda", 2, 0.1, 5)), quiet(3))...)
	fired := Run([]Detector{NewIOSaturated()}, evs)
	// Raised at 5 s, cleared after 3 s below the line (no update between).
	if len(fired) != 2 {
		t.Fatalf("want a finding and its clear, got %d: %+v", len(fired), fired)
	}
	if c, _ := event.As[event.Finding](fired[1]); c.State != event.FindingCleared || !fired[1].Time.Equal(t0.Add(10*time.Second)) ||
		c.Key != "io.saturated sdb" || c.Count != 3 || !c.Since.Equal(t0.Add(5*time.Second)) {
		t.Errorf("clear at %v: %+v", fired[1].Time, c)
	}
	// The fifth saturated second (t0+5 s) completes 5 s.
	if !fired[0].Time.Equal(t0.Add(5*time.Second)) || fired[0].Probe != "iostat" {
		t.Errorf("finding at %v by %q", fired[0].Time, fired[0].Probe)
	}
	f, _ := event.As[event.Finding](fired[0])
	want := IOSaturatedData{Device: "sdb", AwaitMs: 180, AquSz: 12.3, UtilPct: 99, Seconds: 5}
	if f.Finding != "io.saturated" || f.Severity != event.Warn || !reflect.DeepEqual(f.Data, want) || f.Key != "io.saturated sdb" || f.State != "" {
		t.Errorf("finding %+v data %+v", f, f.Data)
	}
	if f.Summary != "sdb saturated for 5s: await 180 ms, queue 12.3, util 99%" {
		t.Errorf("summary %q", f.Summary)
	}
	b, _ := json.Marshal(fired[0])
	for _, key := range []string{`"device":"sdb"`, `"await_ms":180`, `"aqu_sz":12.3`, `"util_pct":99`, `"seconds":5`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

func TestShortBurstsDoNotFire(t *testing.T) {
	hot := writes("sdb", 300, 20, 100)
	for name, s := range map[string][][]schema.DeviceIO{
		"4 s burst":             cat(repeat(4, hot), quiet(5)),
		"4 s, 1 s dip, 4 s":     cat(repeat(4, hot), repeat(1, writes("sdb", 3, 0.2, 20)), repeat(4, hot)),
		"4 s, idle second, 4 s": cat(repeat(4, hot), quiet(1), repeat(4, hot)),
	} {
		if got := detect(script(s...)); len(got) != 0 {
			t.Errorf("%s fired: %+v", name, got[0])
		}
	}
}

func TestUtilAloneDoesNotFire(t *testing.T) {
	// An NVMe drive doing 10k reads/s at 0.3 ms: 100 % util, queue 3, fine.
	nvme := schema.DeviceIO{Device: "nvme0n1", RPerS: 10000, RKBPerS: 40000, RAwaitMs: 0.3, AquSz: 3, UtilPct: 100}
	// Slow but no queue: one sync writer waiting 80 ms at a time.
	lone := writes("sdc", 80, 0.4, 40)
	// Queue but fast.
	deep := writes("sdd", 4, 8, 100)
	if got := detect(script(repeat(120, nvme, lone, deep)...)); len(got) != 0 {
		t.Fatalf("fired: %+v", got[0])
	}
}

func TestAwaitIsWeightedByOps(t *testing.T) {
	// 900 reads at 1 ms and 100 writes at 400 ms: await (900+40000)/1000 =
	// 40.9 ms, under 50 however bad w_await alone looks.
	mixed := schema.DeviceIO{Device: "sde", RPerS: 900, WPerS: 100, RAwaitMs: 1, WAwaitMs: 400, AquSz: 41, UtilPct: 100}
	if got := detect(script(repeat(10, mixed)...)); len(got) != 0 {
		t.Fatalf("fired: %+v", got[0])
	}
	// With writes at 500 ms it is (900+50000)/1000 = 50.9 ms: saturated.
	mixed.WAwaitMs = 500
	got := detect(script(repeat(10, mixed)...))
	if len(got) != 1 || got[0].Data.(IOSaturatedData).AwaitMs != 50.9 {
		t.Fatalf("got %+v", got)
	}
}

func TestRecoversThenFiresAgain(t *testing.T) {
	hot := writes("sdb", 200, 10, 100)
	calm := writes("sdb", 2, 0.1, 10)
	// A 2 s dip is within the same episode (Clear is 3 s): one finding.
	if got := detect(script(cat(repeat(6, hot), repeat(2, calm), repeat(6, hot))...)); len(got) != 1 {
		t.Fatalf("dip inside an episode: %d findings", len(got))
	}
	// 4 calm seconds end it (a clear 3 s after the last saturated
	// second); the next 5 s raise it anew.
	evs := script(cat(repeat(6, hot), repeat(4, calm), repeat(6, hot))...)
	fired := Run([]Detector{NewIOSaturated()}, evs)
	if len(fired) != 3 || !fired[1].Time.Equal(t0.Add(9*time.Second)) || !fired[2].Time.Equal(t0.Add(15*time.Second)) ||
		!slices.Equal(states(detect(evs)...), []string{"raise", "cleared", "raise"}) {
		t.Fatalf("want raise, clear at +9s, raise at +15s, got %+v", fired)
	}
	if d := fired[2].Body.(*event.Finding).Data.(IOSaturatedData); d.Seconds != 5 {
		t.Errorf("second episode measured from its own start: %+v", d)
	}
}

func TestEscalatesOnceToCritical(t *testing.T) {
	// Steady figures for 90 s: raised as a warning, updated the moment it
	// turns critical (60 s), and not again within the minute after.
	got := detect(script(repeat(90, writes("sdb", 120, 6, 100))...))
	if len(got) != 2 || got[0].Severity != event.Warn || got[1].Severity != event.Critical || got[1].State != event.FindingUpdate {
		t.Fatalf("want warn then critical, got %+v", got)
	}
	if d := got[1].Data.(IOSaturatedData); d.Seconds != 60 || got[1].Count != 56 {
		t.Errorf("critical after %v s, count %d", d.Seconds, got[1].Count)
	}
	// Already critical when it is raised: then only the once-a-minute
	// refresh (at 65 s) with the episode's new length.
	got = detect(script(repeat(90, writes("sdb", 800, 30, 100))...))
	if len(got) != 2 || got[0].Severity != event.Critical || got[0].State != "" || got[1].State != event.FindingUpdate ||
		got[1].Data.(IOSaturatedData).Seconds != 65 {
		t.Fatalf("want one critical and one refresh, got %+v", got)
	}
}

// A persisting episode whose figures move: updated when the await moves by
// half (not at every sample), and a first stall is news.
func TestSaturatedUpdatesOnMaterialChange(t *testing.T) {
	var s [][]schema.DeviceIO
	s = append(s, repeat(20, writes("sdb", 100, 6, 100))...)
	s = append(s, repeat(20, writes("sdb", 400, 6, 100))...) // the episode's mean climbs past 150 ms
	s = append(s, repeat(3, schema.DeviceIO{Device: "sdb", InFlight: 2, Stalled: true, UtilPct: 100})...)
	got := detect(script(s...))
	var at []float64
	for _, f := range got {
		at = append(at, f.Data.(IOSaturatedData).Seconds)
	}
	// Raised at 5 s (100 ms); the episode's mean await (weighted by I/Os)
	// reaches 150 ms at 24 s and 229 ms at 35 s, each half again the last
	// one sent; the stall at 41 s is critical at once (a rise).
	if !slices.Equal(states(got...), []string{"raise", "update", "update", "update"}) || !slices.Equal(at, []float64{5, 24, 35, 41}) {
		t.Fatalf("got %v at %v s", states(got...), at)
	}
	if got[3].Severity != event.Critical || !got[3].Data.(IOSaturatedData).Stalled {
		t.Errorf("last update %+v", got[3])
	}
}

func TestStallFires(t *testing.T) {
	stuck := schema.DeviceIO{Device: "sdf", InFlight: 3, Stalled: true, UtilPct: 100}
	got := detect(script(repeat(8, stuck)...))
	if len(got) != 1 || got[0].Severity != event.Critical {
		t.Fatalf("want one critical, got %+v", got)
	}
	d := got[0].Data.(IOSaturatedData)
	if !d.Stalled || d.AwaitMs != 5000 || d.Seconds != 5 {
		t.Errorf("data %+v", d)
	}
	if got[0].Summary != "sdf stalled for 5s: 3 I/O in flight, none completed, util 100%" {
		t.Errorf("summary %q", got[0].Summary)
	}
}

func TestHolesPartitionsAndReplays(t *testing.T) {
	hot := writes("sdb", 200, 10, 100)
	// 3 s, then 10 s with no samples at all, then 3 s: not continuous.
	evs := script(repeat(3, hot)...)
	for i := 0; i < 3; i++ {
		evs = append(evs, event.New(t0.Add(time.Duration(14+i)*time.Second), "iostat",
			&schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{hot}}))
	}
	if got := detect(evs); len(got) != 0 {
		t.Errorf("fired across a hole: %+v", got[0])
	}
	part := hot
	part.Device, part.Partition = "sdb1", true
	if got := detect(script(repeat(10, part)...)); len(got) != 0 {
		t.Errorf("fired for a partition: %+v", got[0])
	}
	// Events read back from a recording decode to the same findings.
	live := script(repeat(7, hot)...)
	var decoded []event.Event
	for _, ev := range live {
		b, _ := json.Marshal(ev)
		var back event.Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		decoded = append(decoded, back)
	}
	a, b := detect(live), detect(decoded)
	if len(a) != 1 || !reflect.DeepEqual(a, b) {
		t.Errorf("live %+v vs decoded %+v", a, b)
	}
}

func TestDeterministic(t *testing.T) {
	var s [][]schema.DeviceIO
	for i := 0; i < 300; i++ {
		var devs []schema.DeviceIO
		for d := 0; d < 6; d++ {
			if (i/(7+d))%3 != 0 {
				devs = append(devs, writes(fmt.Sprintf("sd%c", 'a'+d), float64(40+10*d+i%50), float64(d)/2+0.5, 90))
			}
		}
		s = append(s, devs)
	}
	evs := script(s...)
	first, _ := json.Marshal(Run([]Detector{NewIOSaturated()}, evs))
	second, _ := json.Marshal(Run([]Detector{NewIOSaturated()}, evs))
	if string(first) != string(second) || len(first) < 10 {
		t.Fatalf("runs differ or found nothing:\n%s\n%s", first, second)
	}
}

func TestStateIsBounded(t *testing.T) {
	d := NewIOSaturated().(*ioSaturated)
	devs := make([]schema.DeviceIO, schema.MaxIODevices+50)
	for i := range devs {
		devs[i] = writes(fmt.Sprintf("dm-%d", i), 100, 4, 100)
	}
	for _, ev := range script(repeat(3, devs...)...) {
		d.Observe(ev)
	}
	if len(d.devs) > schema.MaxIODevices {
		t.Fatalf("%d devices tracked", len(d.devs))
	}
	d.Observe(script(quiet(4)...)[3]) // quiet: unfired runs are dropped
	if len(d.devs) != 0 {
		t.Fatalf("%d runs left after a quiet second", len(d.devs))
	}
}

func TestDocQuotesThresholds(t *testing.T) {
	doc := DefaultIOSaturatedThresholds.Doc()
	for _, s := range []string{"at least 50 ms", "at least 1,", "for 5 s", "500 ms", "lasts 60 s", "after 3 s", "%util"} {
		if !strings.Contains(doc, s) {
			t.Errorf("doc lacks %q: %s", s, doc)
		}
	}
}
