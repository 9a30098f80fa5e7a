package findings

import (
	"slices"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// logrotate's double HUP every 20 s for two minutes: the same burst to the
// same process is one condition, counted (×7); a minute without one clears
// it; the next one is a new finding. A burst that grows after it was
// raised is updated at once with its final figures.
func TestSignalBurstRepeatingIsOneCondition(t *testing.T) {
	var evs []event.Event
	for i := range 7 {
		ms := float64(i) * 20000
		evs = append(evs, sigAt(ms, 812, "SIGHUP", 4410), sigAt(ms+3, 812, "SIGHUP", 4410))
	}
	evs = append(evs, sigAt(119999, 900, "SIGUSR1", 1)) // unrelated: nothing
	// The third burst grows to three signals: restated. It is not the one
	// last sent (the first is), so it waits for the rate limit: 40 s since
	// the raise is past the 10 s for a material change (it grew), so it
	// goes out.
	evs = slices.Insert(evs, 6, sigAt(40006, 812, "SIGHUP", 4410))
	evs = append(evs, sigAt(180003, 1, "SIGTERM", 1)) // a minute after the last HUPs
	evs = append(evs, sigAt(200000, 812, "SIGHUP", 4410), sigAt(200004, 812, "SIGHUP", 4410))
	fs := named(sigFindings(evs), FindingSignalBurst)
	if !slices.Equal(states(fs...), []string{"raise", "update", "update", "cleared", "raise"}) {
		t.Fatalf("got %v", states(fs...))
	}
	for _, f := range fs {
		if f.Key != "signal.burst 812 SIGHUP" {
			t.Errorf("key %q", f.Key)
		}
	}
	// Then the minute's refresh (at the seventh burst, 80 s later); the
	// clear, a minute after the last burst, counts all seven.
	if fs[1].Count != 3 || fs[1].Data.(SignalBurstData).Count != 3 || fs[2].Count != 7 || fs[3].Count != 7 ||
		!fs[3].Since.Equal(t0.Add(3*time.Millisecond)) {
		t.Errorf("updates ×%d ×%d, clear ×%d since %v", fs[1].Count, fs[2].Count, fs[3].Count, fs[3].Since)
	}

	// Raised at its second signal, it grows to four: updated at once.
	fs = sigFindings([]event.Event{sigAt(0, 1, "SIGHUP", 9), sigAt(10, 1, "SIGHUP", 9), sigAt(20, 1, "SIGHUP", 9),
		sigAt(30, 1, "SIGHUP", 9), sigAt(1000, 2, "SIGUSR1", 9)})
	if !slices.Equal(states(fs...), []string{"raise", "update"}) || fs[1].Count != 1 || fs[1].Data.(SignalBurstData).Count != 4 {
		t.Fatalf("grown burst: %v %+v", states(fs...), fs)
	}
}

// A worker pool whose workers are killed one after another: one
// process.killed condition per command and signal, whatever the pids.
func TestProcessKilledSameCommandIsOneCondition(t *testing.T) {
	var evs []event.Event
	for i := range 30 {
		evs = append(evs, bodyAt(float64(i)*1000, &schema.Exit{PID: 1000 + i, Comm: "worker", Status: "killed by SIGKILL", Signal: "SIGKILL"}))
	}
	evs = append(evs, bodyAt(31000, &schema.Exit{PID: 99, Comm: "gimli", Status: "killed by SIGKILL", Signal: "SIGKILL"}))
	evs = append(evs, bodyAt(32000, &schema.Exit{PID: 98, Comm: "worker", Status: "killed by SIGTERM", Signal: "SIGTERM"}))
	fs := named(sigFindings(evs), FindingProcessKilled)
	var keys []string
	for _, f := range fs {
		keys = append(keys, f.Key)
	}
	want := []string{"process.killed worker SIGKILL", "process.killed gimli SIGKILL", "process.killed worker SIGTERM"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %q", keys)
	}
}

// A storm that stops for longer than a minute and starts again is two
// findings, with a clear between; within the minute, one.
func TestSignalStormConditions(t *testing.T) {
	// 200 signals in 200 ms, then a lone one 5 s later: a window below the
	// storm count, which ends the storm for the rules.
	storm := func(startMs float64) []event.Event {
		var evs []event.Event
		for i := range 200 {
			evs = append(evs, sigAt(startMs+float64(i), 7, "SIGUSR1", 9))
		}
		return append(evs, sigAt(startMs+5000, 7, "SIGUSR1", 9))
	}
	evs := append(storm(0), storm(30000)...)
	evs = append(evs, storm(200000)...)
	fs := named(sigFindings(evs), FindingSignalStorm)
	if !slices.Equal(states(fs...), []string{"raise", "cleared", "raise"}) || fs[0].Key != "signal.storm 7 SIGUSR1" || fs[1].Count != 2 {
		t.Fatalf("got %v %+v", states(fs...), fs)
	}
}

// A burst that grew is updated when its window has passed, at whatever
// event comes next: here a disk sample. The update is still the signals
// probe's, so `events --probe signals` has all of the condition.
func TestBurstEndedByAnotherProbesEventIsTheSignalsProbes(t *testing.T) {
	evs := []event.Event{sigAt(0, 1, "SIGHUP", 9), sigAt(10, 1, "SIGHUP", 9), sigAt(20, 1, "SIGHUP", 9),
		event.New(t0.Add(500*time.Millisecond), "diskfill", &schema.DiskUsage{IntervalS: 1}),
		event.New(t0.Add(2*time.Minute), "diskfill", &schema.DiskUsage{IntervalS: 1})}
	var got []string
	for _, ev := range Run([]Detector{NewSignals(SignalThresholds{})}, evs) {
		f, _ := event.As[event.Finding](ev)
		got = append(got, f.State+"/"+ev.Probe)
		if ev.Probe != "signals" {
			t.Errorf("%s %q of probe %q", f.Key, f.State, ev.Probe)
		}
	}
	if !slices.Equal(got, []string{"/signals", "update/signals", "cleared/signals"}) {
		t.Errorf("events %v, want raise, update, clear", got)
	}
}
