package engine

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
)

// TestOnFindingSeesEachFindingAfterItIsRecorded: the hook is called once
// for each detector finding, on the engine goroutine, when the finding is
// already in the recording (what the hook injects comes after it), and for
// no probe event.
func TestOnFindingSeesEachFindingAfterItIsRecorded(t *testing.T) {
	rec := &memRecorder{}
	var seen []int // how many events the recorder held at each call
	runFor(t, Options{
		Probes:    []Named{{"fake", fakeProbe{n: 9}}},
		Detectors: []findings.Detector{everyThird{}},
		Recorder:  rec,
		OnFinding: func(f event.Event) {
			if _, ok := event.As[event.Finding](f); !ok {
				t.Errorf("OnFinding got a %s", f.Kind)
			}
			rec.mu.Lock()
			last := rec.evs[len(rec.evs)-1]
			seen = append(seen, len(rec.evs))
			rec.mu.Unlock()
			if last.Kind != event.KindFinding || !last.Time.Equal(f.Time) {
				t.Errorf("the recorder's last event is %s at %v, not the finding at %v", last.Kind, last.Time, f.Time)
			}
		},
	}, 200*time.Millisecond)
	if len(seen) != 3 {
		t.Fatalf("OnFinding called %d times, want 3 (ticks 0, 3, 6)", len(seen))
	}
}
