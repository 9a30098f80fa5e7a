package handoff

import (
	"strings"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/report"
	"github.com/stakeout/stakeout/schema"
)

// keepSnapshot condenses a process_snapshot of the file for the findings'
// evidence, up to report.MaxSnapshots of them.
func keepSnapshot(snaps []report.ProcessSnapshot, ev event.Event) ([]report.ProcessSnapshot, bool) {
	s, ok := event.As[schema.ProcessSnapshot](ev)
	if !ok {
		return snaps, false
	}
	if len(snaps) < report.MaxSnapshots {
		snaps = append(snaps, report.NewProcessSnapshot(ev, s))
	}
	return snaps, true
}

// processEvidence is a finding's second table of evidence: the process it
// names as /proc showed it, in the snapshots stakeout took of it when the
// finding was made (or that someone saved by hand near it), as `report`
// lists them (report.SnapshotsFor). Empty when there are none.
func processEvidence(c *event.Condition, snaps []report.ProcessSnapshot) Evidence {
	list := report.SnapshotsFor(c, snaps)
	if len(list) == 0 {
		return Evidence{}
	}
	ev := Evidence{Title: "process " + schema.Proc(list[0].PID, list[0].Comm) + " as /proc showed it",
		Columns: []string{"time", "process", "kernel stack (innermost first)"}}
	for _, s := range list {
		frames := make([]string, len(s.Stack))
		for i, f := range s.Stack {
			frames[i], _, _ = strings.Cut(f, "+0x") // the function, not its offset
		}
		ev.Rows = append(ev.Rows, Row{Time: s.Time, Cells: []string{s.Summary, strings.Join(frames, " ← ")}})
	}
	return ev
}
