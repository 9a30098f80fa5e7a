package wiring

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
)

// A burst on another host names a pid of that host: reading this host's
// /proc for it would snapshot the wrong process, or none.
func TestNoAutoSnapshotOfAnotherHostsProcess(t *testing.T) {
	a := newAutoSnapshots("/proc")
	burst := event.New(time.Now(), "findings", &event.Finding{Finding: findings.FindingSignalBurst, Key: "b",
		Data: findings.SignalBurstData{PID: 812, Comm: "gimli"}})
	remote := burst
	remote.Host = "r1"
	a.observe(remote)
	if n := len(a.reqs); n != 0 {
		t.Fatalf("%d snapshot requests for a process on r1", n)
	}
	a.observe(burst)
	if n := len(a.reqs); n != 1 {
		t.Fatalf("%d snapshot requests for a local burst, want 1", n)
	}
}
