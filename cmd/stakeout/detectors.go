package main

import (
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/internal/wiring"
)

// detectorConfig passes the detector thresholds that have flags (bound in
// the probes' flag sets) to the live detectors. The recording's header
// keeps them, and replays and reports read them from there, so a recording
// reads the same wherever it is opened.
func (f *liveFlags) detectorConfig() findings.Config {
	return findings.Config{SignalBurstWindow: f.cfg.Signals.BurstWindow}
}

// watch is what a live run or snapshot runs: the probes selected, the
// detectors as the flags set them, the recorder (nil: --no-record), and
// where /proc is for the process snapshots.
func (f *liveFlags) watch(named []engine.Named, rec engine.Recorder) wiring.Watch {
	return wiring.Watch{Probes: named, Detectors: f.detectorConfig(), Recorder: rec, Procfs: f.cfg.Procfs}
}
