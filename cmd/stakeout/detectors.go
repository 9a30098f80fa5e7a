package main

import "github.com/stakeout/stakeout/findings"

// detectorConfig passes the detector thresholds that have flags (bound in
// the probes' flag sets) to the live detectors. The recording's header
// keeps them, and replays and reports read them from there, so a recording
// reads the same wherever it is opened.
func (f *liveFlags) detectorConfig() findings.Config {
	return findings.Config{SignalBurstWindow: f.cfg.Signals.BurstWindow}
}
