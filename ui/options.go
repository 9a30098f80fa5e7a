package ui

import (
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/themes"
)

// Options configure the UI in both modes.
type Options struct {
	Host   string   // hostname for the status line
	Probes []string // registry order; panes appear in this order
	Theme  themes.Theme
	Now    func() time.Time // clock for live mode (tests pin it)

	// Loc is the zone times are shown in; nil means time.Local.
	Loc *time.Location
	// Note saves a note typed with m: live, into the recording through the
	// engine; in a replay, appended to the file. It runs off the UI
	// goroutine. nil turns m off.
	Note func(event.Event) error
	// Inspect reads a live process for the process inspector (i): the
	// wiring passes the collector (probes.ReadProcess), which ui does not
	// link. It runs off the UI goroutine. nil (a replay) shows only the
	// snapshots the recording holds.
	Inspect func(pid int) (*schema.ProcessSnapshot, error)
	// Save records an event made in the UI, the process snapshot s saves
	// in the inspector: live, into the recording through the engine. It
	// runs off the UI goroutine. nil turns s off.
	Save func(event.Event) error
	// Author signs notes; "" means event.NoteAuthor().
	Author string
	// Evidence reads what shows a finding from the recording: the events
	// around it, as the handoff report picks them. first is the event that
	// raised the condition, last its latest. It runs off the UI goroutine
	// when a finding is opened (Enter on the strip). nil shows none.
	Evidence func(first, last event.Event) (Evidence, error)
	// Trace attaches ptrace to pid and its children (attach) or detaches
	// it: a and d on a process selected in the signals pane. It runs off
	// the UI goroutine; the probe records the outcome as a trace event.
	// nil (a replay) turns a and d off.
	Trace func(pid int, attach bool) error
	// Done is called once for each live event the UI has applied (or
	// dropped while frozen) and no longer needs: the live wiring hands a
	// capture's packet batch back for reuse (packet.ReleaseBatch). nil
	// does nothing.
	Done func(event.Event)

	// TickEvery is how often a replay advances; 0 means 100 ms, and a
	// negative value turns the timer off so tests can drive tickMsg by hand.
	TickEvery time.Duration
}

func (o Options) withDefaults() Options {
	if o.Theme.Name == "" {
		o.Theme = themes.Must(themes.Default)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Loc == nil {
		o.Loc = time.Local
	}
	if o.Author == "" {
		o.Author = event.NoteAuthor()
	}
	if o.Done == nil {
		o.Done = func(event.Event) {}
	}
	if o.TickEvery == 0 {
		o.TickEvery = 100 * time.Millisecond
	}
	return o
}
