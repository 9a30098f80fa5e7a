package handoff

import (
	"math"
	"testing"
	"time"
)

// TestFindingDataWithANaN: a finding whose data holds a NaN keeps the rest
// of its data (the pid and device that pick its evidence); json.Marshal
// refused the whole of it. A window span from the data is bounded, so the
// evidence window's arithmetic cannot wrap.
func TestFindingDataWithANaN(t *testing.T) {
	d := decodeData(map[string]any{"pid": 610, "device": "sdb", "span_ms": math.NaN(), "seconds": math.Inf(1)})
	if d.PID != 610 || d.Device != "sdb" || d.SpanMs != 0 || d.Seconds != 0 {
		t.Errorf("decoded %+v", d)
	}
	for ms, want := range map[float64]time.Duration{1e300: 24 * time.Hour, -5: 0, math.NaN(): 0, 1500: 1500 * time.Millisecond} {
		if got := msWindow(ms); got != want {
			t.Errorf("msWindow(%g) = %v, want %v", ms, got, want)
		}
	}
}
