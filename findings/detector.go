// Package findings turns events into findings. A detector is a deterministic
// function of the events it has seen, in order: it reads event time, never
// the wall clock, so it gives the same findings live, in a replay, in
// `snapshot` and in `report`, and on recordings made before it existed.
package findings

import (
	"time"

	"github.com/stakeout/stakeout/event"
)

// Detector watches the event stream and names culprits.
type Detector interface {
	// Produces lists the finding names this detector emits. Recorded findings
	// with these names are dropped when a file is read, because the detector
	// recomputes them.
	Produces() []string
	// Observe takes the next event and returns finding events, if any. It must
	// not keep ev beyond the call unless it copies what it needs, and its
	// memory must stay bounded however long the stream.
	Observe(ev event.Event) []event.Event
}

// Config tunes detectors (thresholds that have flags).
type Config struct {
	SignalBurstWindow time.Duration // --burst-window; 0 means the default
}

// All returns a fresh set of every detector.
func All(cfg Config) []Detector {
	return []Detector{
		NewIOSaturated(),
		NewSignals(SignalThresholds{BurstWindow: cfg.SignalBurstWindow}),
		NewPackets(),
		NewDiskFill(),
		NewKernelLog(),
		NewConntrack(),
		NewModulesLoaded(),
		NewCoreDumpsLost(),
	}
}

// Run feeds events to fresh detectors and returns the findings in order.
func Run(dets []Detector, evs []event.Event) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		for _, d := range dets {
			out = append(out, d.Observe(ev)...)
		}
	}
	return out
}

// Recomputed reports the finding names that dets recompute from events.
func Recomputed(dets []Detector) map[string]bool {
	m := map[string]bool{}
	for _, d := range dets {
		for _, n := range d.Produces() {
			m[n] = true
		}
	}
	return m
}
