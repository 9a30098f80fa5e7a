package engine

import (
	"context"

	"github.com/stakeout/stakeout/event"
)

// Inject hands the engine an event made outside the probes: a note typed
// in the TUI. It goes the way a probe's events go (recorded, seen by the
// detectors, sent to the Sink), but unlike a probe's Emit it waits for room
// in the queue rather than being dropped: a person's note is never shed.
// It gives up when ctx is done.
func (e *Engine) Inject(ctx context.Context, ev event.Event) error {
	select {
	case e.queue <- ev:
		e.events.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
