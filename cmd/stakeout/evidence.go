package main

import (
	"errors"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/handoff"
	"github.com/stakeout/stakeout/sessions"
	"github.com/stakeout/stakeout/ui"
)

// What the TUI is handed to open findings: a finding's evidence is read
// from the recording as the handoff report picks it (handoff.EvidenceOf).
// (a and d in the signals pane reach the signals probe through the
// wiring: internal/wiring's traceRequests.)

// evidenceReader reads a finding's evidence from the recording at path,
// off the UI goroutine, opening the file for each read. live says the
// file is still being written: its tail, not yet a whole chunk, is no
// damage worth showing, and the last second may not be in it yet.
// redacted says it holds pseudonyms where the screen shows the real names.
func evidenceReader(path string, live, redacted bool) func(first, last event.Event) (ui.Evidence, error) {
	note := ""
	switch {
	case live && redacted:
		note = "from the recording, redacted (--redact); its last second may not be written yet"
	case live:
		note = "from the recording; its last second may not be written yet"
	}
	return func(first, last event.Event) (ui.Evidence, error) {
		r, err := openSession(path)
		if err != nil {
			return ui.Evidence{Note: note}, err
		}
		defer r.Close()
		e, err := handoff.EvidenceOf(r, first, last, nil)
		var d *sessions.Damage
		if live && errors.As(err, &d) {
			err = nil
		}
		return toUIEvidence(e, note), err
	}
}

// filesEvidence reads a finding's evidence from the finished recordings at
// paths, read as one (a finding of a Set names its host, and its evidence
// is that host's events), opening them for each read.
func filesEvidence(paths []string) func(first, last event.Event) (ui.Evidence, error) {
	if len(paths) == 1 {
		return evidenceReader(paths[0], false, false)
	}
	return func(first, last event.Event) (ui.Evidence, error) {
		r, err := openRecordings(paths)
		if err != nil {
			return ui.Evidence{}, err
		}
		defer r.Close()
		e, err := handoff.EvidenceOf(r, first, last, nil)
		return toUIEvidence(e, ""), err
	}
}

// noEvidence is the reader when nothing is recorded: it says so.
func noEvidence(why string) func(first, last event.Event) (ui.Evidence, error) {
	return func(first, last event.Event) (ui.Evidence, error) {
		return ui.Evidence{Note: why}, nil
	}
}

func toUIEvidence(e handoff.Evidence, note string) ui.Evidence {
	out := ui.Evidence{Title: e.Title, Columns: e.Columns, Note: note}
	for _, r := range e.Rows {
		out.Rows = append(out.Rows, ui.EvidenceRow{Time: r.Time, Cells: r.Cells, Mark: r.Mark})
	}
	return out
}
