package engine

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/probes"
	"github.com/stakeout/stakeout/schema"
)

// wildProbe emits iostat samples whose numbers a broken counter could give:
// NaN, infinities, 1.7e308.
type wildProbe struct{}

func (wildProbe) Check() error { return nil }
func (wildProbe) Run(ctx context.Context, emit probes.Emit) error {
	for i := range 8 {
		emit(event.New(time.Unix(int64(i), 0), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sda",
			RPerS: math.NaN(), WPerS: math.Inf(1), WAwaitMs: 1.7e308, AquSz: math.Inf(-1), UtilPct: 100, InFlight: math.MaxUint64}}}))
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestLiveNumbersAreBounded: what a probe emits is bounded before the
// recorder, the detectors and the screen see it, as a file's numbers are
// when read, so live and replay agree and nothing downstream meets a NaN.
func TestLiveNumbersAreBounded(t *testing.T) {
	rec := &memRecorder{}
	got := runFor(t, Options{Probes: []Named{{"iostat", wildProbe{}}}, Recorder: rec,
		Detectors: []findings.Detector{findings.NewIOSaturated()}}, 200*time.Millisecond)
	samples, finds := 0, 0
	for _, ev := range got {
		if s, ok := event.As[schema.IOSample](ev); ok {
			samples++
			d := s.Devices[0]
			if d.RPerS != 0 || d.WPerS != event.MaxNumber || d.WAwaitMs != event.MaxNumber || d.AquSz != -event.MaxNumber || d.InFlight != math.MaxInt64 {
				t.Errorf("sample not bounded: %+v", d)
			}
		}
		if f, ok := event.As[event.Finding](ev); ok {
			finds++
			if _, err := json.Marshal(f.Data); err != nil {
				t.Errorf("finding data: %v", err)
			}
		}
	}
	if samples != 8 || len(rec.evs) != len(got) {
		t.Errorf("%d samples, %d recorded of %d", samples, len(rec.evs), len(got))
	}
	for _, ev := range rec.evs {
		if _, err := json.Marshal(ev); err != nil {
			t.Errorf("the recorder got an event it cannot write: %v", err)
		}
	}
}
