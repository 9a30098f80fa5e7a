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
type Ticker struct {
	C <-chan time.Time

	c     chan time.Time
	every time.Duration
	mu    sync.Mutex
	t     *time.Timer
	next  int64 // the boundary the timer is set for, Unix ns
	stop  bool
}

// NewTicker returns a Ticker ticking at each multiple of every since the
// epoch, starting with the first at least every/2 from now, so the first
// interval (a probe's baseline read to its first sample) is never a sliver.
// every must be positive.
func NewTicker(every time.Duration) *Ticker {
	if every <= 0 {
		panic("aligned: non-positive interval")
	}
	c := make(chan time.Time, 1)
	k := &Ticker{C: c, c: c, every: every}
	now := time.Now().UnixNano()
	k.next = boundaryAfter(now+int64(every/2), every)
	k.mu.Lock()
	k.t = time.AfterFunc(time.Duration(k.next-now), k.fire)
	k.mu.Unlock()
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

func (k *Ticker) fire() {
	now := time.Now()
	select {
	case k.c <- now:
	default: // the receiver is behind: drop, as time.Ticker does
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stop {
		return
	}
	// Aim at the boundary after the one just served. When the timer was
	// late by more than a period, or the wall clock jumped either way,
	// start again from the next boundary after now: never two ticks for
	// one boundary, never a stall after the clock is set back.
	ns := now.UnixNano()
	k.next += int64(k.every)
	if k.next <= ns || k.next-ns > int64(k.every) {
		k.next = boundaryAfter(ns, k.every)
	}
	k.t.Reset(time.Duration(k.next - ns))
}

// Stop turns the ticker off; no tick is sent after Stop returns, except
// one that was already in flight. It does not close C.
func (k *Ticker) Stop() {
	k.mu.Lock()
	k.stop = true
	k.t.Stop()
	k.mu.Unlock()
}
