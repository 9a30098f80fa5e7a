// Package aligned gives tickers whose ticks fall on shared wall-clock
// boundaries: every ticker of period P ticks at the multiples of P since
// the Unix epoch. Started at different moments, the probes' and the
// engine's once-a-second tickers then all fire in the same instant, so an
// idle stakeout wakes once a second rather than at eight scattered moments
// (each of which also wakes the Go runtime's sysmon thread).
package aligned

import (
	"sync"
	"time"
)

// Ticker is like time.Ticker: C receives the time of each tick, and ticks
// the receiver is not ready for are dropped, not queued.
//
// Every Ticker of one period is served by one timer (clock): at each
// boundary that timer's one goroutine sends to each of them in turn. With a
// timer each, an idle stakeout's ten tickers were ten timer goroutines a
// second, each also reading the clock and re-arming, all in the same
// instant; sharing one makes the tick cost one wake of the runtime.
type Ticker struct {
	C <-chan time.Time

	c     chan time.Time
	clock *clock
	first int64 // the first boundary this ticker is sent, Unix ns
}

// clock is the timer behind the tickers of one period. It runs while any
// ticker is subscribed.
type clock struct {
	every time.Duration
	mu    sync.Mutex
	subs  map[*Ticker]struct{}
	t     *time.Timer // nil while no ticker is subscribed
	next  int64       // the boundary the timer is set for, Unix ns
	gen   uint64      // bumped when the timer is stopped: a fire of an older one does nothing
}

var clocks struct {
	mu sync.Mutex
	m  map[time.Duration]*clock
}

func clockOf(every time.Duration) *clock {
	clocks.mu.Lock()
	defer clocks.mu.Unlock()
	c := clocks.m[every]
	if c == nil {
		if clocks.m == nil {
			clocks.m = map[time.Duration]*clock{}
		}
		c = &clock{every: every, subs: map[*Ticker]struct{}{}}
		clocks.m[every] = c
	}
	return c
}

// NewTicker returns a Ticker ticking at each multiple of every since the
// epoch, starting with the first at least every/2 from now, so the first
// interval (a probe's baseline read to its first sample) is never a sliver.
// every must be positive.
func NewTicker(every time.Duration) *Ticker {
	if every <= 0 {
		panic("aligned: non-positive interval")
	}
	ch := make(chan time.Time, 1)
	now := time.Now().UnixNano()
	k := &Ticker{C: ch, c: ch, clock: clockOf(every), first: boundaryAfter(now+int64(every/2), every)}
	c := k.clock
	c.mu.Lock()
	c.subs[k] = struct{}{}
	if c.t == nil {
		c.next = boundaryAfter(now, every)
		gen := c.gen
		c.t = time.AfterFunc(time.Duration(c.next-now), func() { c.fire(gen) })
	}
	c.mu.Unlock()
	return k
}

// Next is the tick a Ticker of period every would give after t: the first
// multiple of every since the epoch at least every/2 after t. A loop that
// waits on a deadline of its own (a capture's netpoller read) takes its
// ticks from it, to wake in the same instant as the tickers.
func Next(t time.Time, every time.Duration) time.Time {
	if every <= 0 {
		panic("aligned: non-positive interval")
	}
	return time.Unix(0, boundaryAfter(t.UnixNano()+int64(every/2), every))
}

// boundaryAfter is the first multiple of every strictly after ns.
func boundaryAfter(ns int64, every time.Duration) int64 {
	e := int64(every)
	b := ns - ns%e
	if ns < 0 && ns%e != 0 {
		b -= e
	}
	return b + e
}

// fire serves the boundary c.next to every ticker whose first boundary it
// has reached, then sets the timer for the next one.
func (c *clock) fire(gen uint64) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.t == nil {
		return // stopped (and perhaps started again) since this was set
	}
	for k := range c.subs {
		if c.next >= k.first {
			select {
			case k.c <- now:
			default: // the receiver is behind: drop, as time.Ticker does
			}
		}
	}
	// Aim at the boundary after the one just served. When the timer was
	// late by more than a period, or the wall clock jumped either way,
	// start again from the next boundary after now: never two ticks for
	// one boundary, never a stall after the clock is set back.
	ns := now.UnixNano()
	c.next += int64(c.every)
	if c.next <= ns || c.next-ns > int64(c.every) {
		c.next = boundaryAfter(ns, c.every)
	}
	c.t.Reset(time.Duration(c.next - ns))
}

// Stop turns the ticker off: no tick is sent after Stop returns, except
// one that was already in C. It does not close C. The period's timer stops
// with its last ticker.
func (k *Ticker) Stop() {
	c := k.clock
	c.mu.Lock()
	delete(c.subs, k)
	if len(c.subs) == 0 && c.t != nil {
		c.t.Stop()
		c.t = nil
		c.gen++
	}
	c.mu.Unlock()
}
