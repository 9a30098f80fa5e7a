package findings

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func TestProcessSnapshotsWant(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	find := func(at time.Time, name, state string, data any) event.Event {
		return event.New(at, "p", &event.Finding{Finding: name, State: state, Data: data, Key: name})
	}
	burst := SignalBurstData{PID: 812, Comm: "gimli"}
	p := NewProcessSnapshots()
	steps := []struct {
		what string
		ev   event.Event
		now  time.Time
		pid  int // 0: no snapshot
	}{
		{"a burst's raise", find(t0, FindingSignalBurst, "", burst), t0, 812},
		{"its update 10 s on: taken within the minute", find(t0.Add(10*time.Second), FindingSignalBurst, event.FindingUpdate, burst), t0.Add(10 * time.Second), 0},
		{"an exec race of the same pid within the minute", find(t0.Add(20*time.Second), FindingExecRace, "", ExecRaceData{PID: 812}), t0.Add(20 * time.Second), 0},
		{"a minute on", find(t0.Add(61*time.Second), FindingSignalBurst, event.FindingUpdate, burst), t0.Add(61 * time.Second), 812},
		{"a cleared burst", find(t0.Add(200*time.Second), FindingSignalBurst, event.FindingCleared, burst), t0.Add(200 * time.Second), 0},
		{"a storm is not in the list", find(t0, FindingSignalStorm, "", SignalStormData{PID: 900}), t0, 0},
		{"a filling disk's top writer (map data, as read back)", find(t0, FindingDiskFilling, "",
			map[string]any{"mount": "/var", "writers": []any{map[string]any{"pid": 4242.0, "comm": "dd"}}}), t0, 4242},
		{"a filling disk with no writer known", find(t0, FindingDiskFilling, "", DiskFillingData{}), t0, 0},
		{"a hung task read live", find(t0, FindingHungTask, "", schema.HungTaskLine{PID: 77, Comm: "jbd2/sda1-8"}), t0.Add(time.Second), 77},
		{"a hung task from the log's backlog", find(t0.Add(-time.Hour), FindingHungTask, "", schema.HungTaskLine{PID: 78}), t0, 0},
	}
	for _, s := range steps {
		ref, ok := p.Want(s.ev, s.now)
		if got := map[bool]int{true: ref.PID}[ok]; got != s.pid {
			t.Errorf("%s: snapshot of %d (%v), want %d", s.what, ref.PID, ok, s.pid)
		}
	}
}

// TestProcessSnapshotsBounded: the rule remembers a bounded number of
// processes, forgetting those past the minute first.
func TestProcessSnapshotsBounded(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	p := NewProcessSnapshots()
	ev := func(pid int, at time.Time) event.Event {
		return event.New(at, "p", &event.Finding{Finding: FindingSignalBurst, Data: SignalBurstData{PID: pid}})
	}
	for pid := 1; pid <= maxSnapshotPids; pid++ {
		if _, ok := p.Want(ev(pid, t0), t0); !ok {
			t.Fatalf("pid %d refused under the bound", pid)
		}
	}
	if _, ok := p.Want(ev(maxSnapshotPids+1, t0), t0); ok {
		t.Error("a snapshot past the bound within the same minute")
	}
	later := t0.Add(2 * SnapshotEvery)
	if _, ok := p.Want(ev(maxSnapshotPids+1, later), later); !ok || len(p.last) != 1 {
		t.Errorf("a minute on, the old entries were not forgotten: %d kept", len(p.last))
	}
}
