package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// The report builder takes IOSummary as the iostat probe's summarizer.
var _ Summarizer = (*IOSummary)(nil)

func ioEvent(at time.Time, interval float64, devs ...DeviceIO) event.Event {
	return event.New(at, "iostat", &IOSample{IntervalS: interval, Devices: devs})
}

func TestIOSummary(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	evs := []event.Event{
		ioEvent(t0.Add(1*time.Second), 1,
			DeviceIO{Device: "sda", RPerS: 100, RKBPerS: 400, RAwaitMs: 2, AquSz: 1, UtilPct: 50},
			DeviceIO{Device: "sdb", WPerS: 10, WKBPerS: 40, WAwaitMs: 20, AquSz: 0.2, UtilPct: 10}),
		event.New(t0, "iostat", &event.ProbeStatus{Status: "ok"}), // ignored
		ioEvent(t0.Add(2*time.Second), 1,
			DeviceIO{Device: "sda", RPerS: 300, WPerS: 100, RKBPerS: 1200, WKBPerS: 800, RAwaitMs: 4, WAwaitMs: 10, AquSz: 3, UtilPct: 100}),
		ioEvent(t0.Add(4*time.Second), 2),                                      // quiet: counts as time, every device idle
		ioEvent(t0.Add(4*time.Second), 0, DeviceIO{Device: "bogus", RPerS: 1}), // no interval: ignored
	}
	// Round-trip through JSON: recorded sessions must summarise the same.
	for i, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var s IOSummary
	for _, ev := range evs {
		s.Observe(ev)
	}
	// 4 s watched. sda: 400 reads, 100 writes, 1600 kB read, 800 kB written,
	// util integral 150 %·s. Its worst await is the second sample's
	// (300×4 + 100×10) / 400 = 5.5 ms.
	want := []IODeviceSummary{
		{Device: "sda", Samples: 2, AvgRPerS: 100, MaxRPerS: 300, AvgWPerS: 25, MaxWPerS: 100,
			AvgRKBPerS: 400, MaxRKBPerS: 1200, AvgWKBPerS: 200, MaxWKBPerS: 800,
			MaxAwaitMs: 5.5, MaxAquSz: 3, AvgUtilPct: 37.5},
		{Device: "sdb", Samples: 1, AvgWPerS: 2.5, MaxWPerS: 10, AvgWKBPerS: 10, MaxWKBPerS: 40,
			MaxAwaitMs: 20, MaxAquSz: 0.2, AvgUtilPct: 2.5},
	}
	if got := s.Rows(); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows\n got %+v\nwant %+v", got, want)
	}
	if s.Seconds() != 4 {
		t.Errorf("seconds %v", s.Seconds())
	}
	b, _ := json.Marshal(s.Result())
	for _, key := range []string{`"samples":3`, `"seconds":4`, `"device":"sda"`, `"avg_r_s":100`, `"max_await_ms":5.5`, `"max_aqu_sz":3`, `"avg_util_pct":37.5`, `"max_wkb_s":800`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	lines := s.Lines()
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "sda: 2 samples; r/s avg 100.0 max 300.0") {
		t.Errorf("lines %q", lines)
	}
}

func TestIOSummaryEmptyAndBounded(t *testing.T) {
	var s IOSummary
	if rows := s.Rows(); rows == nil || len(rows) != 0 {
		t.Fatalf("zero value rows %#v", rows)
	}
	if l := s.Lines(); len(l) != 1 {
		t.Fatalf("zero value lines %q", l)
	}
	devs := make([]DeviceIO, MaxIODevices+10)
	for i := range devs {
		devs[i] = DeviceIO{Device: fmt.Sprintf("loop%d", i), RPerS: 1}
	}
	s.Observe(ioEvent(time.Unix(1, 0), 1, devs...))
	s.Observe(ioEvent(time.Unix(2, 0), 1, devs...))
	if n := len(s.Rows()); n != MaxIODevices {
		t.Fatalf("%d rows, want the cap %d", n, MaxIODevices)
	}
	if r := s.Result().(IOSummaryResult); r.DroppedRows != 20 {
		t.Fatalf("dropped %d", r.DroppedRows)
	}
}
