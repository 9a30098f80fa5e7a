package wiring

import (
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/probes"
)

// recordGuard is the guard that pauses the recording while the detectors
// find the filesystem holding it filling critically: it knows that
// filesystem's mount points from this host's mountinfo. No recording, no
// guard.
func recordGuard(rec engine.Recorder) engine.RecordGuard {
	if rec == nil {
		return nil
	}
	ms, _ := probes.MountPointsOf("/proc", rec.Path())
	return findings.NewDiskFillGuard(ms)
}
