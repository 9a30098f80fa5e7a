package ui

import (
	"time"

	"github.com/stakeout/stakeout/event"
)

// ReplaySource is the cursor over a recording that a replay drives; the UI
// owns no file I/O. sessions.Player satisfies it. Its methods are called on
// the UI goroutine, so they must answer from memory (an index), not wait on
// a disk, and Seek and Tick may stop after a bounded amount of decoding
// (Pending): the UI then asks for the rest with Continue, one message at a
// time, so a key pressed meanwhile (q) is handled between two of them.
type ReplaySource interface {
	Start() time.Time
	End() time.Time
	Position() time.Time
	// Seek sets the position to t and returns recent history [t-h, t] so the
	// panes can rebuild after a Reset. It should include the probe_status in
	// force for each probe, or the UI falls back to the last one it saw.
	Seek(t time.Time) ([]event.Event, error)
	// Tick advances by real×speed unless paused, clamping at End, and
	// returns the events passed over.
	Tick(real time.Duration) ([]event.Event, error)
	// Pending says the last call stopped before delivering every event up
	// to the position; Continue returns more of them.
	Pending() bool
	Continue() ([]event.Event, error)
	SetSpeed(x float64)
	Speed() float64
	SetPaused(bool)
	Paused() bool
}
