package aligned

import (
	"testing"
	"time"
)

func TestBoundaryAfter(t *testing.T) {
	s := time.Second
	for _, c := range []struct{ ns, want int64 }{
		{0, 1e9}, {1, 1e9}, {999_999_999, 1e9}, {1e9, 2e9}, {1e9 + 1, 2e9},
		{-1, 0}, {-1e9, 0}, {-1e9 - 1, -1e9},
	} {
		if got := boundaryAfter(c.ns, s); got != c.want {
			t.Errorf("boundaryAfter(%d) = %d, want %d", c.ns, got, c.want)
		}
	}
}

// Next is a boundary, never a sliver away: at least half a period after t
// and at most a period and a half.
func TestNext(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	for _, c := range []struct{ after, want time.Duration }{
		{0, time.Second}, {time.Millisecond, time.Second}, {499 * time.Millisecond, time.Second},
		{500 * time.Millisecond, 2 * time.Second}, {999 * time.Millisecond, 2 * time.Second},
	} {
		if got := Next(base.Add(c.after), time.Second); !got.Equal(base.Add(c.want)) {
			t.Errorf("Next(+%v) = +%v, want +%v", c.after, got.Sub(base), c.want)
		}
	}
}

// Ticks land on multiples of the period since the epoch (a timer fires at
// or after its time, so each tick is in the first part of its period, with
// generous slack for a loaded machine), and two tickers started apart share
// their ticks' boundaries.
func TestTicksFallOnSharedBoundaries(t *testing.T) {
	const every = 50 * time.Millisecond
	a := NewTicker(every)
	defer a.Stop()
	time.Sleep(17 * time.Millisecond) // a different phase, were they not aligned
	b := NewTicker(every)
	defer b.Stop()
	// Each on-time tick (in the first tenth of its period: a timer fires at
	// or after its time; the slack is for a loaded machine) names its
	// boundary; b's on-time boundaries must be among a's.
	onTime := func(k *Ticker) map[int64]bool {
		m := map[int64]bool{}
		for range 10 {
			at := (<-k.C).UnixNano()
			if at%int64(every) < int64(every)/10 {
				m[at/int64(every)] = true
			}
		}
		return m
	}
	var ma map[int64]bool
	done := make(chan struct{})
	go func() { ma = onTime(a); close(done) }()
	mb := onTime(b)
	<-done
	shared := 0
	for k := range mb {
		if ma[k] {
			shared++
		}
	}
	// A starved test process may see a few late ticks; none shared means
	// the two are not aligned at all.
	if len(mb) > 0 && shared == 0 {
		t.Errorf("no shared boundary: a %v, b %v", ma, mb)
	}
	if len(ma) == 0 || len(mb) == 0 {
		t.Error("no tick fell in the first tenth of its period (ticks not on the boundaries)")
	}
}

// The first tick is at least half a period away, then on the boundaries.
func TestFirstTickNotASliver(t *testing.T) {
	const every = 40 * time.Millisecond
	start := time.Now()
	k := NewTicker(every)
	defer k.Stop()
	if first := <-k.C; first.Sub(start) < every/2 {
		t.Errorf("first tick %v after start, want at least %v", first.Sub(start), every/2)
	}
}

func TestStopEndsTicks(t *testing.T) {
	k := NewTicker(time.Millisecond * 10)
	<-k.C
	k.Stop()
	select { // drain one that may have been in flight
	case <-k.C:
	default:
	}
	select {
	case <-k.C:
		t.Error("tick after Stop")
	case <-time.After(50 * time.Millisecond):
	}
}

// Tickers of one period share one timer: each gets every tick, one made
// while the clock runs still waits at least half a period for its first,
// and the timer stops with the last ticker and starts again with a new one.
func TestTickersShareOneClock(t *testing.T) {
	const every = 30 * time.Millisecond
	a, b := NewTicker(every), NewTicker(every)
	if a.clock != b.clock {
		t.Fatal("two tickers of one period have clocks of their own")
	}
	<-a.C
	<-b.C
	// Late in a period of the running clock: its next boundary is a sliver
	// away, and the new ticker must not get it.
	for time.Now().UnixNano()%int64(every) < int64(every)*8/10 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	c := NewTicker(every)
	if first := <-c.C; first.Sub(start) < every/2 {
		t.Errorf("a ticker joining a running clock got its first tick %v after it was made, want at least %v", first.Sub(start), every/2)
	}
	for _, k := range []*Ticker{a, b, c} {
		k.Stop()
	}
	clk := a.clock
	clk.mu.Lock()
	running, subs := clk.t != nil, len(clk.subs)
	clk.mu.Unlock()
	if running || subs != 0 {
		t.Errorf("after every ticker stopped: timer running %v, %d subscribers", running, subs)
	}
	d := NewTicker(every)
	defer d.Stop()
	select {
	case <-d.C:
	case <-time.After(2 * time.Second):
		t.Error("a ticker made after the clock stopped never ticks")
	}
}
