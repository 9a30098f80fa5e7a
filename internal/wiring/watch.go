package wiring

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/probes"
)

// Watch is what the live TUI and snapshot both run: probes, detectors and
// a recorder.
type Watch struct {
	Probes    []engine.Named
	Detectors findings.Config
	Recorder  engine.Recorder // nil: not recording (--no-record)
	// Procfs is the root of the proc filesystem a finding's process is
	// read from for its process_snapshot, and the inspector's (i); ""
	// means /proc.
	Procfs string
}

// procfs is where the process snapshots read /proc.
func (w Watch) procfs() string {
	if w.Procfs == "" {
		return "/proc"
	}
	return w.Procfs
}

// newEngine builds the engine over w's probes, with fresh detectors, the
// recorder and the mount points whose filling pauses it, and starts the
// goroutine that snapshots a finding's live process (autoSnapshots) until
// ctx is done. sink gets every event; keepsNothing says it keeps no packet
// batch once it returns.
func (w Watch) newEngine(ctx context.Context, sink func([]event.Event), keepsNothing bool, onRec func(engine.RecordingState)) *engine.Engine {
	// A sink that keeps nothing (snapshot's report) is cheap: fed at once,
	// it costs no second wake a second. The TUI's is fed every 100 ms.
	snaps := newAutoSnapshots(w.procfs())
	eng := engine.New(engine.Options{
		Probes:           w.Probes,
		Detectors:        findings.All(w.Detectors),
		Recorder:         w.Recorder,
		RecordGuard:      recordGuard(w.Recorder),
		OnFinding:        snaps.observe,
		Sink:             sink,
		SinkKeepsNothing: keepsNothing,
		FeedWhenIdle:     keepsNothing,
		OnRecording:      onRec,
	})
	go snaps.run(ctx, eng.Inject)
	return eng
}

// ErrNoProbes: the names select no probe.
var ErrNoProbes = errors.New("no probe selected")

// Probes builds the named probes (each once, in the order given; all of
// them when names is empty) with cfg. With validate, a probe's bad
// settings are an error; without (the live TUI), the probe says so in its
// pane. A name that is no probe's is an error that lists the probes.
func Probes(names []string, cfg probes.Config, validate bool) ([]engine.Named, error) {
	if len(names) == 0 {
		names = probes.Names()
	}
	var out []engine.Named
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		spec, ok := probes.Lookup(n)
		if !ok {
			return nil, fmt.Errorf("unknown probe %q (available: %s)", n, strings.Join(probes.Names(), ", "))
		}
		if spec.Validate != nil && validate {
			if err := spec.Validate(cfg); err != nil {
				return nil, err
			}
		}
		seen[n] = true
		out = append(out, engine.Named{Name: n, Probe: spec.New(cfg)})
	}
	if len(out) == 0 {
		return nil, ErrNoProbes
	}
	return out, nil
}
