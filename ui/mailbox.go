package ui

import (
	"sync"

	"github.com/stakeout/stakeout/event"
)

// Mailbox carries events from the engine to the screen without ever making
// the engine wait: the engine Puts, and whoever drives the program Takes
// once Ready says there is something. Events pile up while the UI is busy
// and are taken in one batch; past max, the oldest data samples are shed,
// but the control kinds (event.Traits.Control: findings, notes, probe
// statuses, recording events) never are, as in a frozen view (freezer): a
// slow terminal may miss frames, never a culprit.
type Mailbox struct {
	mu      sync.Mutex
	pending []event.Event
	max     int
	shed    uint64
	ready   chan struct{} // holds one token while pending is non-empty
}

// NewMailbox holds up to max events (more while they are control kinds).
func NewMailbox(max int) *Mailbox {
	return &Mailbox{max: max, ready: make(chan struct{}, 1)}
}

// Put adds evs; it never blocks. Put(nil) only wakes the taker.
func (m *Mailbox) Put(evs []event.Event) {
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

// Ready receives after a Put.
func (m *Mailbox) Ready() <-chan struct{} { return m.ready }

// Take returns everything pending, or nil.
func (m *Mailbox) Take() []event.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.pending
	m.pending = nil
	return out
}

// shedData drops the oldest data events until the batch fits, keeping the
// events that must reach the screen.
func (m *Mailbox) shedData(evs []event.Event) []event.Event {
	excess := len(evs) - m.max
	kept := evs[:0]
	for _, ev := range evs {
		if excess > 0 && !event.IsControl(ev.Kind) {
			excess--
			m.shed++
			continue
		}
		kept = append(kept, ev)
	}
	return kept
}
