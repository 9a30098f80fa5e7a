package main

import (
	"sync"

	"github.com/stakeout/stakeout/event"
)

// mailbox carries events from the engine to the screen without ever making
// the engine wait. Events pile up while the UI is busy and are taken in one
// batch; past max, the oldest data samples are shed, but findings, notes,
// probe statuses and recording events never are: a slow terminal may miss
// frames, never a culprit.
type mailbox struct {
	mu      sync.Mutex
	pending []event.Event
	max     int
	shed    uint64
	ready   chan struct{} // holds one token while pending is non-empty
}

func newMailbox(max int) *mailbox {
	return &mailbox{max: max, ready: make(chan struct{}, 1)}
}

// put never blocks.
func (m *mailbox) put(evs []event.Event) {
	m.mu.Lock()
	m.pending = append(m.pending, evs...)
	if len(m.pending) > m.max {
		m.pending = m.shedData(m.pending)
	}
	m.mu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// take returns everything pending, or nil.
func (m *mailbox) take() []event.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.pending
	m.pending = nil
	return out
}

// shedData drops the oldest data events until the batch fits, keeping the
// events that must reach the screen.
func (m *mailbox) shedData(evs []event.Event) []event.Event {
	excess := len(evs) - m.max
	kept := evs[:0]
	for _, ev := range evs {
		if excess > 0 && !mustShow(ev) {
			excess--
			m.shed++
			continue
		}
		kept = append(kept, ev)
	}
	return kept
}

// mustShow: the control kinds (event.Traits.Control).
func mustShow(ev event.Event) bool { return event.IsControl(ev.Kind) }
