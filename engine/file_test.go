package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/schema"
)

type sliceIter struct{ evs []event.Event }

func (s *sliceIter) Next() (event.Event, bool) {
	if len(s.evs) == 0 {
		return event.Event{}, false
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, true
}

func (s *sliceIter) Err() error { return nil }

// A recording made by an older detector holds a core.dumps_lost raised
// with every process count, and one made by today's holds its updates and
// clears. Either way Replay drops every recorded finding of a name the
// detectors recompute (raise, update or clear) and gives today's: one
// condition, raised once and cleared. A recorded finding no detector makes
// (record.paused) comes through as it was.
func TestReplayDropsRecordedUpdatesOfRecomputedFindings(t *testing.T) {
	at := func(s int) time.Time { return g0.Add(time.Duration(s) * time.Second) }
	ready := func(s, n int) event.Event {
		return event.New(at(s), "coredump", &schema.CoreReadiness{CorePattern: "core", SuidDumpable: 1, Processes: n, ZeroLimit: n})
	}
	recorded := func(s int, state string, count int) event.Event {
		return event.New(at(s), "coredump", &event.Finding{Finding: findings.FindingCoreDumpsLost, Severity: event.Info,
			Key: "core.dumps_lost zero_limit", State: state, Count: count, Summary: "recorded"})
	}
	paused := event.New(at(7), "recorder", &event.Finding{Finding: "record.paused", Severity: event.Warn, Key: "record.paused", Summary: "paused"})
	evs := []event.Event{
		ready(0, 26), recorded(0, "", 0),
		ready(5, 27), recorded(5, "", 0), // an old build's repeat
		ready(6, 30), recorded(6, event.FindingUpdate, 3),
		paused,
		{Time: at(8), Probe: "coredump", Kind: "core_readiness", Body: &schema.CoreReadiness{CorePattern: "core", SuidDumpable: 1, Processes: 30}},
		recorded(8, event.FindingCleared, 3),
	}
	var got []string
	err := Replay(&sliceIter{evs}, findings.All(findings.Config{}), func(ev event.Event) bool {
		if f, ok := event.As[event.Finding](ev); ok {
			if f.Summary == "recorded" {
				t.Errorf("recorded finding kept: %+v", f)
			}
			got = append(got, f.Finding+":"+f.State)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"core.dumps_lost:", "record.paused:", "core.dumps_lost:cleared"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
