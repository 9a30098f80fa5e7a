package sessions

import (
	"container/heap"
	"math"
	"sort"
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

// Player is a replay cursor over a Recording (one file or a Set) with pause, seek and speed. It
// reads no clock: the UI calls Tick with the real time that passed, so a
// replay driven by a script is deterministic. Forward play reads one Iter
// sequentially; only Seek uses the index.
//
// A recording is in write order, not time order (window.go), so the Player
// delivers each event when the position reaches the event's own time: it
// reads ahead in file order until the time index shows that nothing at or
// before the position is left (Iter.Passed), and holds the events it read
// that are still ahead of the position, in time order, in a buffer of
// bounded size (maxAhead). Two things keep that bounded:
//
//   - the play runs over the recording's plausible span
//     (Reader.plausibleSpan), not from its earliest to its latest time: an
//     event dated outside it (a clock years off) is delivered as soon as
//     it is read, not held;
//   - when the buffer is full, reading ahead waits until the position
//     catches up with it; an event found later whose time the position has
//     already passed is delivered at once.
//
// OutOfTime counts the events of both kinds. Not safe for concurrent use.
//
// Each call stops after a bounded amount of decoding (playerStep), so a
// seek into a minute of packet flood does not hold the UI: the position
// moves at once, Pending reports that events up to it are still to come,
// and Continue (or the next Tick) delivers more.
type Player struct {
	r        Recording
	history  time.Duration
	drop     func(event.Event) bool
	step     int64 // work per call
	maxAhead int64 // bound of the read-ahead buffer, in aheadCost units

	lo, hi time.Time // the plausible span: Start and End
	pos    time.Time
	speed  float64
	paused bool

	it      Events
	from    time.Time // events before it (a Seek's history) are read past
	ahead   aheadHeap // read, in the span, after the position: by time, then file order
	aheadSz int64     // their aheadCost
	seq     uint64    // file order of the events read, to keep ties stable
	shown   time.Time // every event up to it was delivered, unless counted late
	spent   bool      // it has ended; its error was already returned
	pending bool      // the last call stopped at its step before reaching pos
	odd     int       // events delivered when read, not at their time (OutOfTime)
}

// NewPlayer starts a Player at r.Start(), unpaused at speed 1. history is
// how far back Seek returns events so panes can rebuild their state; drop,
// if not nil, filters events out (for example recorded findings, so the
// detectors can recompute them).
func NewPlayer(r Recording, history time.Duration, drop func(event.Event) bool) *Player {
	if history < 0 {
		history = 0
	}
	lo, hi := r.PlausibleSpan()
	return &Player{r: r, history: history, drop: drop, step: playerStep, maxAhead: maxAhead,
		lo: lo, hi: hi, pos: lo, shown: lo, speed: 1}
}

// Start and End are the plausible span of the recording (see Reader.plausibleSpan):
// Reader.Start and End unless an event is dated far outside the rest.
func (p *Player) Start() time.Time    { return p.lo }
func (p *Player) End() time.Time      { return p.hi }
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
	// The Player drops the events before from itself, a step at a time:
	// an Iter would read past them inside one Next, a segment's worth.
	p.it = p.r.playEvents(p.from)
	p.ahead, p.aheadSz, p.spent = p.ahead[:0], 0, false
	p.pos, p.shown = t, p.from
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
		p.it, p.from = p.r.Events(time.Time{}), time.Time{}
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

// OutOfTime counts the events delivered when they were read rather than
// when the position reached their time: those dated outside the plausible
// span, and those found after the position had passed their time because
// the read-ahead buffer was full.
func (p *Player) OutOfTime() int { return p.odd }

// drain returns events up to t, in time order, stopping early (Pending)
// once it has done a step's work. An iteration error (damage) is returned
// once, with the events read before it.
func (p *Player) drain(t time.Time) ([]event.Event, error) {
	var out []event.Event
	deliver := func(ev event.Event) {
		if p.drop == nil || !p.drop(ev) {
			out = append(out, ev)
		}
	}
	for len(p.ahead) > 0 && !p.ahead[0].ev.Time.After(t) {
		a := heap.Pop(&p.ahead).(ahead)
		p.aheadSz -= aheadCost(a.ev)
		deliver(a.ev)
	}
	stop := p.it.work() + p.step
	p.pending = false
	var err error
	for !p.spent && p.aheadSz < p.maxAhead && !p.it.Passed(t) {
		if p.it.work() >= stop {
			p.pending = true
			break
		}
		ev, ok := p.it.Next()
		if !ok {
			p.spent, err = true, p.it.Err()
			break
		}
		p.seq++
		switch {
		case ev.Time.Before(p.from):
			// Before a Seek's history.
		case ev.Time.Before(p.lo) || ev.Time.After(p.hi):
			p.odd++
			deliver(ev)
		case !ev.Time.After(t):
			if ev.Time.Before(p.shown) {
				p.odd++ // late: the buffer was full when its time came
			}
			deliver(ev)
		default:
			heap.Push(&p.ahead, ahead{ev: ev, seq: p.seq})
			p.aheadSz += aheadCost(ev)
		}
	}
	if !p.pending {
		p.shown = t
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, err
}

const (
	// maxAhead bounds the events a Player holds read ahead of its position,
	// by aheadCost: about 16 MiB of memory. A segment is at most 1 MiB of
	// records, so it holds several; a recording whose file order departs
	// from time order by more than that plays part of it late.
	maxAhead = 16 << 20

	// plausibleGap: the plausible span of a recording reaches out from its
	// start through times in its index no more than this apart (span).
	plausibleGap = 24 * time.Hour
)

// aheadCost estimates the memory an event read from a file holds: its
// record (Raw) and the body decoded from it, about as large again.
func aheadCost(ev event.Event) int64 { return 2*int64(len(ev.Raw)) + 256 }

type ahead struct {
	ev  event.Event
	seq uint64
}

// aheadHeap is a min-heap of events by time, then by file order.
type aheadHeap []ahead

func (h aheadHeap) Len() int { return len(h) }
func (h aheadHeap) Less(i, j int) bool {
	if !h[i].ev.Time.Equal(h[j].ev.Time) {
		return h[i].ev.Time.Before(h[j].ev.Time)
	}
	return h[i].seq < h[j].seq
}
func (h aheadHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *aheadHeap) Push(x any)   { *h = append(*h, x.(ahead)) }
func (h *aheadHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = ahead{}
	*h = old[:len(old)-1]
	return x
}
