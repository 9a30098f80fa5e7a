package sessions

import (
	"math"
	"time"

	"github.com/stakeout/stakeout/event"
)

const (
	minSpeed = 0.25
	maxSpeed = 64
)

// Player is a replay cursor over a Reader with pause, seek and speed. It
// reads no clock: the UI calls Tick with the real time that passed, so a
// replay driven by a script is deterministic. Forward play reads one Iter
// sequentially; only Seek uses the index.
//
// Events are delivered in file order: an event is handed out once the
// position reaches its time, and one recorded a little out of time order
// comes with the batch where the file has it. Not safe for concurrent use.
type Player struct {
	r       *Reader
	history time.Duration
	drop    func(event.Event) bool

	pos    time.Time
	speed  float64
	paused bool

	it     *Iter
	next   event.Event // read ahead: the first event past pos
	hasNxt bool
	spent  bool // it has ended; its error was already returned
}

// NewPlayer starts a Player at r.Start(), unpaused at speed 1. history is
// how far back Seek returns events so panes can rebuild their state; drop,
// if not nil, filters events out (for example recorded findings, so the
// detectors can recompute them).
func NewPlayer(r *Reader, history time.Duration, drop func(event.Event) bool) *Player {
	if history < 0 {
		history = 0
	}
	return &Player{r: r, history: history, drop: drop, pos: r.Start(), speed: 1}
}

func (p *Player) Start() time.Time    { return p.r.Start() }
func (p *Player) End() time.Time      { return p.r.End() }
func (p *Player) Position() time.Time { return p.pos }
func (p *Player) Speed() float64      { return p.speed }
func (p *Player) Paused() bool        { return p.paused }
func (p *Player) SetPaused(b bool)    { p.paused = b }

// SetSpeed sets the replay speed, clamped to [0.25, 64].
func (p *Player) SetSpeed(x float64) {
	if math.IsNaN(x) {
		x = 1
	}
	p.speed = min(max(x, minSpeed), maxSpeed)
}

func (p *Player) clamp(t time.Time) time.Time {
	if t.Before(p.Start()) {
		return p.Start()
	}
	if t.After(p.End()) {
		return p.End()
	}
	return t
}

// Seek moves to t (clamped to the recording) and returns the events in
// [t-history, t], so panes can rebuild their state.
func (p *Player) Seek(t time.Time) ([]event.Event, error) {
	t = p.clamp(t)
	p.it = p.r.Iter(t.Add(-p.history))
	p.hasNxt, p.spent = false, false
	p.pos = t
	return p.drain(t)
}

// AdvanceTo moves forward to t (clamped to End) and returns the events
// since the last position. A t before the position behaves as Seek.
func (p *Player) AdvanceTo(t time.Time) ([]event.Event, error) {
	if t.Before(p.pos) {
		return p.Seek(t)
	}
	t = p.clamp(t)
	if p.it == nil {
		// First play: from the beginning, so events at Start are included.
		p.it = p.r.Iter(time.Time{})
	}
	p.pos = t
	return p.drain(t)
}

// Tick advances by real*speed unless paused, stopping at End.
func (p *Player) Tick(real time.Duration) ([]event.Event, error) {
	if p.paused || real <= 0 {
		return nil, nil
	}
	step := time.Duration(float64(real) * p.speed)
	return p.AdvanceTo(p.pos.Add(step))
}

// drain returns events up to t. An iteration error (damage) is returned
// once, with the events read before it.
func (p *Player) drain(t time.Time) ([]event.Event, error) {
	var out []event.Event
	for !p.spent {
		if !p.hasNxt {
			ev, ok := p.it.Next()
			if !ok {
				p.spent = true
				return out, p.it.Err()
			}
			p.next, p.hasNxt = ev, true
		}
		if p.next.Time.After(t) {
			return out, nil
		}
		p.hasNxt = false
		if p.drop == nil || !p.drop(p.next) {
			out = append(out, p.next)
		}
	}
	return out, nil
}
