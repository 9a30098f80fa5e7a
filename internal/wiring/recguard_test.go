package wiring

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/internal/testenv"
)

// pathOnly is a recorder of which recordGuard may ask only the path.
type pathOnly struct {
	engine.Recorder
	path string
}

func (p pathOnly) Path() string { return p.path }

// TestRecordGuardKnowsTheRecordingsMount: the guard the live and snapshot
// wiring hands the engine learns, from this host's mountinfo, the mount
// point of the filesystem the recording is on: a critical disk.filling
// for that mount pauses it, one for another mount (/) does not. Without a
// recording there is no guard.
func TestRecordGuardKnowsTheRecordingsMount(t *testing.T) {
	if recordGuard(nil) != nil {
		t.Fatal("a guard without a recording")
	}
	mnt, _ := testenv.LoopFS(t, 16, 0)
	crit := func(mount string) event.Event {
		return event.New(time.Now(), "diskfill", &event.Finding{Finding: findings.FindingDiskFilling,
			Severity: event.Critical, Summary: mount + ": 1 MiB of 16 MiB available",
			Data: findings.DiskFillingData{Mount: mount}})
	}
	g := recordGuard(pathOnly{path: filepath.Join(mnt, "x.stk")})
	if pause, _ := g.Observe(crit("/")); pause != "" {
		t.Fatalf("paused for another filesystem: %s", pause)
	}
	if pause, _ := g.Observe(crit(mnt)); pause == "" {
		t.Fatalf("no pause for the recording's own filesystem at %s", mnt)
	}
}
