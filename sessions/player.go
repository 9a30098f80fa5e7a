package sessions

import (
	"math"
	"time"

	"github.com/stakeout/stakeout/event"
)

const (
	minSpeed = 0.25
	maxSpeed = 64

	// playerStep is the work (decoded bytes and records, as the reader's
	// limit counts them) one Seek, Tick or Continue does before it
	// returns: about 30 ms of decoding a packet flood. The UI calls them
	// on its own goroutine, so a key (q) waits at most that long.
	playerStep = 512 << 10
)

// Player is a replay cursor over a Reader with pause, seek and speed. It
// reads no clock: the UI calls Tick with the real time that passed, so a
// replay driven by a script is deterministic. Forward play reads one Iter
// sequentially; only Seek uses the index.
//
// Events are delivered in file order: an event is handed out once the
// position reaches its time, and one recorded a little out of time order
// comes with the batch where the file has it. Not safe for concurrent use.
//
// Each call stops after a bounded amount of decoding (playerStep), so a
// seek into a minute of packet flood does not hold the UI: the position
// moves at once, Pending reports that events up to it are still to come,
// and Continue (or the next Tick) delivers more.
type Player struct {
	r       *Reader
	history time.Duration
	drop    func(event.Event) bool
	step    int64 // work per call

	pos    time.Time
	speed  float64
	paused bool

	it      *Iter
	from    time.Time   // events before it (a Seek's history) are read past
	next    event.Event // read ahead: the first event past pos
	hasNxt  bool
	spent   bool // it has ended; its error was already returned
	pending bool // the last call stopped at its step before reaching pos
}

// NewPlayer starts a Player at r.Start(), unpaused at speed 1. history is
// how far back Seek returns events so panes can rebuild their state; drop,
// if not nil, filters events out (for example recorded findings, so the
// detectors can recompute them).
func NewPlayer(r *Reader, history time.Duration, drop func(event.Event) bool) *Player {
	if history < 0 {
		history = 0
	}
	return &Player{r: r, history: history, drop: drop, step: playerStep, pos: r.Start(), speed: 1}
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
// [t-history, t], so panes can rebuild their state; if Pending, the rest
// of them come from Continue.
func (p *Player) Seek(t time.Time) ([]event.Event, error) {
	t = p.clamp(t)
	p.from = t.Add(-p.history)
	p.it = p.r.Iter(p.from)
	// The Iter would read past the events before from inside one Next,
	// a whole segment's worth; the Player drops them itself, a step at a
	// time.
	p.it.from = time.Time{}
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
		p.it, p.from = p.r.Iter(time.Time{}), time.Time{}
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

// Pending reports that the last call stopped at its step before it had
// read every event up to the position; Continue delivers more of them.
func (p *Player) Pending() bool { return p.pending }

// Continue returns more of the events up to the position after a call that
// left them Pending, and nothing otherwise.
func (p *Player) Continue() ([]event.Event, error) {
	if !p.pending {
		return nil, nil
	}
	return p.drain(p.pos)
}

// drain returns events up to t, stopping early (Pending) once it has done
// a step's work. An iteration error (damage) is returned once, with the
// events read before it.
func (p *Player) drain(t time.Time) ([]event.Event, error) {
	var out []event.Event
	stop := p.it.lim.work + p.step
	p.pending = false
	for !p.spent {
		if !p.hasNxt {
			if p.it.lim.work >= stop {
				p.pending = true
				return out, nil
			}
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
		if p.next.Time.Before(p.from) {
			continue
		}
		if p.drop == nil || !p.drop(p.next) {
			out = append(out, p.next)
		}
	}
	return out, nil
}
