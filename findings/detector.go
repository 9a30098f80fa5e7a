// Package findings turns events into findings. A detector is a deterministic
// function of the events it has seen, in order: it reads event time, never
// the wall clock, so it gives the same findings live, in a replay, in
// `snapshot` and in `report`, and on recordings made before it existed.
package findings

import (
	"encoding/json"
	"sort"
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

// Finisher is a detector with conditions that can still be open when the
// stream ends (a flow silent since its last packet): Finish returns the
// findings that close them. The engine calls it once, after the last event
// of a live session or a file.
type Finisher interface {
	Finish() []event.Event
}

// Finish calls Finish on those of dets that have it, in order.
func Finish(dets []Detector) []event.Event {
	var out []event.Event
	for _, d := range dets {
		if f, ok := d.(Finisher); ok {
			out = append(out, f.Finish()...)
		}
	}
	return out
}

// Config tunes detectors (thresholds that have flags). A recording keeps it
// in its header (ConfigJSON) and every reader of the file runs the
// detectors with it (ConfigOf), so replay finds what live found.
type Config struct {
	SignalBurstWindow time.Duration `json:"signal_burst_window_ns,omitempty"` // --burst-window; 0 means the default
}

// maxBurstWindow bounds a burst window read from a file: the header is
// untrusted, and a window of days would make one burst of a whole file.
const maxBurstWindow = time.Hour

// ConfigJSON is cfg as stored in a recording's header.
func ConfigJSON(cfg Config) json.RawMessage {
	b, _ := json.Marshal(cfg)
	return b
}

// ConfigOf reads the settings stored in a recording's header. Missing,
// malformed or out-of-range settings fall back to the defaults.
func ConfigOf(raw json.RawMessage) Config {
	var cfg Config
	if len(raw) == 0 || json.Unmarshal(raw, &cfg) != nil {
		return Config{}
	}
	if cfg.SignalBurstWindow < 0 || cfg.SignalBurstWindow > maxBurstWindow {
		cfg.SignalBurstWindow = 0
	}
	return cfg
}

// registered lists every detector's constructor in the order detectors see
// each event (lowest rank first), which is the order of the findings one
// event raises. Each detector file adds its own with registerDetector.
var registered []registration

type registration struct {
	rank     int
	mk       func(Config) Detector
	allHosts bool // sees every host's events in one instance
}

// registerDetector adds a detector; call it from the detector file's init.
// All runs one instance of it per host (perHost).
func registerDetector(rank int, mk func(Config) Detector) {
	register1(registration{rank: rank, mk: mk})
}

// registerCrossHostDetector adds a detector that reasons across hosts: one
// instance sees every host's events, each with its Host.
func registerCrossHostDetector(rank int, mk func(Config) Detector) {
	register1(registration{rank: rank, mk: mk, allHosts: true})
}

func register1(r registration) {
	registered = append(registered, r)
	sort.SliceStable(registered, func(i, j int) bool { return registered[i].rank < registered[j].rank })
}

// All returns a fresh set of every detector. Each keeps one state per
// host (event.Event.Host) and the findings it raises carry that host,
// except the cross-host ones, which see every host at once.
func All(cfg Config) []Detector {
	out := make([]Detector, len(registered))
	for i, r := range registered {
		if r.allHosts {
			out[i] = r.mk(cfg)
			continue
		}
		out[i] = newPerHost(func() Detector { return r.mk(cfg) })
	}
	return out
}

// Run feeds events to fresh detectors and returns the findings in order,
// with what the stream's end closes last.
func Run(dets []Detector, evs []event.Event) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		for _, d := range dets {
			out = append(out, d.Observe(ev)...)
		}
	}
	return append(out, Finish(dets)...)
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
