package engine

import (
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
)

// FindingLag bounds how much earlier than the event that completes it a
// finding can be dated: a packet finding carries its packet's time, which a
// batch of packets, stamped with its last one, holds up to 250 ms back.
// Findings up to time T are all made once the events up to T+FindingLag
// have been replayed.
const FindingLag = time.Minute

// Iterator yields a recording's events in order (sessions.Iter satisfies it).
type Iterator interface {
	Next() (event.Event, bool)
	Err() error
}

// Replay feeds a recording through fresh detectors and calls fn, in order,
// with every recorded event and every finding the detectors make. Recorded
// findings that the detectors recompute are dropped (raises, updates and
// clears alike: by name), so findings come out the same for a recording
// made before a detector existed or changed. At the end of the file, the
// findings the end closes (findings.Finisher) follow. fn returns false to
// stop early.
func Replay(it Iterator, dets []findings.Detector, fn func(event.Event) bool) error {
	recomputed := findings.Recomputed(dets)
	for {
		ev, ok := it.Next()
		if !ok {
			if err := it.Err(); err != nil {
				return err
			}
			for _, f := range findings.Finish(dets) {
				if !fn(f) {
					break
				}
			}
			return nil
		}
		if f, isF := event.As[event.Finding](ev); isF && recomputed[f.Finding] {
			continue
		}
		if !fn(ev) {
			return nil
		}
		for _, d := range dets {
			for _, f := range d.Observe(ev) {
				if !fn(f) {
					return nil
				}
			}
		}
	}
}
