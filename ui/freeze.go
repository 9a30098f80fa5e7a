package ui

import (
	"fmt"

	"github.com/stakeout/stakeout/event"
)

// maxHeld bounds the events held while the view is frozen. Past it the
// oldest probe samples are dropped; control kinds (findings, statuses,
// recorder events, notes: event.Traits.Control) are always kept, since the
// strip and status line must not lose them.
const maxHeld = 20000

// freezer holds live events while the on-call engineer reads a frozen screen.
// The recorder is not affected: it gets events from the engine, not from us.
type freezer struct {
	on      bool
	held    []event.Event
	dropped int
}

func (f freezer) Frozen() bool { return f.on }

// Hold keeps evs for later, and returns the samples it dropped to make room.
func (f freezer) Hold(evs []event.Event) (freezer, []event.Event) {
	f.held = append(f.held, evs...)
	var gone []event.Event
	if len(f.held) > maxHeld {
		f.held, gone = dropSamples(f.held, len(f.held)-maxHeld*3/4)
		f.dropped += len(gone)
	}
	return f, gone
}

// dropSamples removes up to n of the oldest probe samples, and returns
// what is kept and what was removed.
func dropSamples(evs []event.Event, n int) (kept, gone []event.Event) {
	kept = evs[:0:0]
	for _, ev := range evs {
		if n > 0 && !event.IsControl(ev.Kind) {
			n--
			gone = append(gone, ev)
			continue
		}
		kept = append(kept, ev)
	}
	return kept, gone
}

// Toggle freezes or thaws; on thaw it returns the held events to apply.
func (f freezer) Toggle() (freezer, []event.Event) {
	if !f.on {
		return freezer{on: true}, nil
	}
	return freezer{}, f.held
}

// Label is the status-line text while frozen.
func (f freezer) Label() string {
	if !f.on {
		return ""
	}
	s := "FROZEN"
	if n := len(f.held); n > 0 {
		s += fmt.Sprintf(" +%d", n)
	}
	if f.dropped > 0 {
		s += fmt.Sprintf(" (%d dropped)", f.dropped)
	}
	return s
}
