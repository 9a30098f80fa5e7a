package findings

import (
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// SnapshotEvery is how often at most a live process gets an automatic
// process_snapshot.
const SnapshotEvery = time.Minute

// snapshotFindings are the findings whose process is worth a look at
// once: what it waits on the moment it got a burst of signals or raced an
// exec, the top writer of a filling disk, a task hung in the kernel.
var snapshotFindings = map[string]bool{
	FindingSignalBurst: true,
	FindingExecRace:    true,
	FindingDiskFilling: true,
	FindingHungTask:    true,
}

// maxSnapshotPids bounds the processes ProcessSnapshots remembers.
const maxSnapshotPids = 4096

// ProcessSnapshots decides when a finding's process gets an automatic
// process_snapshot: the wiring asks it about each finding as it is made
// and reads the process when it says so. It keeps no more than
// maxSnapshotPids processes. Not safe for concurrent use.
type ProcessSnapshots struct {
	last map[int]time.Time
}

// NewProcessSnapshots returns the rule with nothing taken yet.
func NewProcessSnapshots() *ProcessSnapshots {
	return &ProcessSnapshots{last: map[int]time.Time{}}
}

// Want says whether the finding ev, seen at now, should get a snapshot of
// the live process it names, and which: a signal.burst, signal.exec_race,
// disk.filling (its top writer) or kernel.hung_task raised or updated (not
// cleared), no older than SnapshotEvery (a kernel line from the log's
// backlog names a process of long ago, maybe a reused pid), of a process
// not snapshotted in the last SnapshotEvery. A yes counts as taken.
func (p *ProcessSnapshots) Want(ev event.Event, now time.Time) (schema.ProcRef, bool) {
	f, ok := event.As[event.Finding](ev)
	if !ok || !snapshotFindings[f.Finding] || f.State == event.FindingCleared || now.Sub(ev.Time) > SnapshotEvery {
		return schema.ProcRef{}, false
	}
	ref, ok := schema.FindingProcess(f)
	if !ok {
		return schema.ProcRef{}, false
	}
	if at, seen := p.last[ref.PID]; seen && now.Sub(at) < SnapshotEvery {
		return schema.ProcRef{}, false
	}
	if len(p.last) >= maxSnapshotPids {
		for pid, at := range p.last {
			if now.Sub(at) >= SnapshotEvery {
				delete(p.last, pid)
			}
		}
		if len(p.last) >= maxSnapshotPids {
			return schema.ProcRef{}, false // thousands of processes a minute: enough
		}
	}
	p.last[ref.PID] = now
	return ref, true
}
