package report

import (
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Bounds of the process snapshots a document lists.
const (
	MaxSnapshots        = 1000        // kept from the stream (handoff keeps as many)
	snapshotsPerFinding = 4           // listed under one finding
	snapshotNear        = time.Minute // how far before a condition's raise and after its last event
)

// ProcessSnapshot is a process_snapshot as a document lists it under a
// finding (JSON "process_snapshots", each naming its finding's key): the
// process the finding names, as /proc showed it then. The whole snapshot
// (threads, stacks, fds, limits) is in the recording (`stakeout events
// --kind process_snapshot`).
type ProcessSnapshot struct {
	// Finding is the key of the condition it is listed under (its name for
	// a finding without one).
	Finding string `json:"finding"`
	// Host is the host the process ran on, in a document of several.
	Host         string         `json:"host,omitempty"`
	Time         time.Time      `json:"time"`
	PID          int            `json:"pid"`
	Comm         string         `json:"comm"`
	State        string         `json:"state"`
	Wchan        string         `json:"wchan,omitempty"`
	ThreadsTotal int            `json:"threads_total"`
	ThreadStates map[string]int `json:"thread_states,omitempty"`
	FDsTotal     int            `json:"fds_total"`
	Core         *schema.Limit  `json:"core_limit,omitempty"`
	Cgroup       string         `json:"cgroup,omitempty"`
	// Stack is the kernel stack of the first thread it lists (one in
	// uninterruptible sleep, else the main thread), innermost first, at
	// most 8 frames.
	Stack []string `json:"stack,omitempty"`
	// Summary is it in one line of words (schema.ProcessSnapshot.Line).
	Summary string `json:"summary"`

	// TakenFor is the key of the finding it was taken for ("" when saved
	// by hand).
	TakenFor string `json:"-"`
}

// NewProcessSnapshot condenses a process_snapshot event for a document.
func NewProcessSnapshot(ev event.Event, s *schema.ProcessSnapshot) ProcessSnapshot {
	n := ProcessSnapshot{Host: ev.Host, Time: ev.Time.UTC(), PID: s.PID, Comm: s.Comm, State: s.State, Wchan: s.Wchan,
		ThreadsTotal: s.ThreadsTotal, ThreadStates: s.ThreadStates, FDsTotal: s.FDsTotal, Cgroup: s.Cgroup,
		Summary: s.Line(), TakenFor: s.Finding}
	if c, ok := s.Limits["core"]; ok {
		n.Core = &c
	}
	if len(s.Threads) > 0 {
		n.Stack = s.Threads[0].Stack[:min(len(s.Threads[0].Stack), 8)]
	}
	return n
}

// Of says whether s is listed under the condition c: it was taken for c,
// or it is of the process c names and was taken from a minute before c
// was raised to a minute after its last event.
func (s ProcessSnapshot) Of(c *event.Condition) bool {
	if s.Host != c.Last.Host {
		return false // a pid names a process on its own host only
	}
	f := c.Finding()
	if f.Key != "" && s.TakenFor == f.Key {
		return true
	}
	ref, named := schema.FindingProcess(f)
	return named && s.PID == ref.PID && !s.Time.Before(c.Since().Add(-snapshotNear)) && !s.Time.After(c.Last.Time.Add(snapshotNear))
}

// SnapshotsFor lists the snapshots of snaps that are c's (Of), earliest
// first, at most snapshotsPerFinding, each labelled with c's key.
func SnapshotsFor(c *event.Condition, snaps []ProcessSnapshot) []ProcessSnapshot {
	f := c.Finding()
	label := f.Key
	if label == "" {
		label = f.Finding
	}
	var out []ProcessSnapshot
	for _, s := range snaps {
		if s.Of(c) {
			s.Finding = label
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b ProcessSnapshot) int { return a.Time.Compare(b.Time) })
	if len(out) > snapshotsPerFinding {
		out = out[:snapshotsPerFinding]
	}
	return out
}

// observeSnapshot keeps a snapshot's note, up to MaxSnapshots.
func (b *Builder) observeSnapshot(ev event.Event, s *schema.ProcessSnapshot) {
	if len(b.snaps) < MaxSnapshots {
		b.snaps = append(b.snaps, NewProcessSnapshot(ev, s))
	}
}

// SnapshotsOf returns the snapshots listed under the finding ev (one of
// d.Findings), for the text forms.
func (d Document) SnapshotsOf(ev event.Event) []ProcessSnapshot {
	f, ok := event.As[event.Finding](ev)
	if !ok {
		return nil
	}
	label := f.Key
	if label == "" {
		label = f.Finding
	}
	var out []ProcessSnapshot
	for _, s := range d.Processes {
		if s.Finding == label && s.Host == ev.Host {
			out = append(out, s)
		}
	}
	return out
}
