package schema

// How stakeout estimates a fill rate and time-to-full (the README quotes this):
//
// Used space (and used inodes) is fitted with a least-squares line over three
// trailing windows: 10 s and 1 min of samples, and 10 min thinned to one
// sample per 10 s. A window counts only when it is at least half covered
// and steady: each of its four quarters grew by at least a quarter of its
// even share of the window's growth. A burst (an apt run, a log rotation, a
// compaction) grows one quarter and not the others, so it never makes a
// window steady, and it drops out of the 10 s window 10 s after it stops.
// The rate is the slope of the longest steady window, unless a shorter
// steady window is more than 10% faster (the fill is speeding up): a new
// fast fill is caught by the 10 s window within seconds, a slow or bursty
// one (a checkpoint every 30 s) by the 10 min window. If nothing grew at all in
// the last minute the fill has stopped and there is no estimate, whatever the
// 10 min window still remembers. Time-to-full is the space left (available to
// unprivileged users, or free inodes) divided by the rate.

import "github.com/stakeout/stakeout/event"

const (
	trendShortSpacing = 0.25 // s between kept points in the 10 s and 1 min windows
	trendShortCap     = 256  // points: 1 min at 0.25 s
	trendLongSpacing  = 10.0 // s between points in the 10 min window
	trendLongCap      = 64   // points: 10 min and a bit
	trendMinPoints    = 5    // a window needs at least this many points…
	trendStopWindow   = 60.0 // s without growth that mean a fill has stopped
)

var trendWindows = [...]float64{600, 60, 10} // longest first

type trendPoint struct{ t, v float64 }

// pointRing keeps the last cap points at least spacing apart; memory is fixed.
type pointRing struct {
	buf     []trendPoint
	next, n int
	spacing float64
}

func newPointRing(cap int, spacing float64) pointRing {
	return pointRing{buf: make([]trendPoint, cap), spacing: spacing}
}

func (r *pointRing) push(p trendPoint) {
	if r.n > 0 {
		last := r.buf[(r.next-1+len(r.buf))%len(r.buf)]
		if p.t < last.t { // time went back: start over
			r.next, r.n = 0, 0
		} else if p.t-last.t < r.spacing {
			return
		}
	}
	r.buf[r.next] = p
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// since returns the points at or after t0, oldest first.
func (r *pointRing) since(t0 float64, dst []trendPoint) []trendPoint {
	dst = dst[:0]
	for i := range r.n {
		p := r.buf[(r.next-r.n+i+len(r.buf))%len(r.buf)]
		if p.t >= t0 {
			dst = append(dst, p)
		}
	}
	return dst
}

// fillTrend follows one quantity of one filesystem.
type FillTrend struct {
	short, long pointRing
	scratch     []trendPoint
}

func NewFillTrend() *FillTrend {
	return &FillTrend{short: newPointRing(trendShortCap, trendShortSpacing),
		long: newPointRing(trendLongCap, trendLongSpacing)}
}

// add records used units at time t (seconds on any monotonic scale) and
// returns the trend towards running out of left units.
func (f *FillTrend) Add(t, used, left float64) Trend {
	p := trendPoint{t, used}
	f.short.push(p)
	f.long.push(p)
	// Stopped: a minute's worth of points and no growth across it.
	if pts := f.short.since(t-trendStopWindow, f.scratch); len(pts) >= trendMinPoints &&
		pts[len(pts)-1].t-pts[0].t >= trendStopWindow/2 && pts[len(pts)-1].v <= pts[0].v {
		f.scratch = pts
		return Trend{}
	}
	best := Trend{}
	for _, w := range trendWindows {
		src := &f.short
		if w > trendStopWindow {
			src = &f.long
		}
		pts := src.since(t-w, f.scratch)
		f.scratch = pts
		if len(pts) < trendMinPoints || pts[len(pts)-1].t-pts[0].t < w/2 || !steady(pts) {
			continue
		}
		if r := slope(pts); r > 1.1*best.RatePerS {
			best = Trend{RatePerS: r, WindowS: w}
		}
	}
	if best.RatePerS > 0 {
		// Bounded: a rate next to zero would make the time infinite.
		eta := event.Bound(max(left, 0) / best.RatePerS)
		best.EtaS = &eta
	}
	return best
}

// steady: the window grew, and each quarter of it by at least a quarter of
// an even share (total/16), so no single burst carries the window.
func steady(pts []trendPoint) bool {
	t0, t1 := pts[0].t, pts[len(pts)-1].t
	total := pts[len(pts)-1].v - pts[0].v
	if total <= 0 || t1 <= t0 {
		return false
	}
	prev := pts[0].v
	for q := 1; q <= 4; q++ {
		at := valueAt(pts, t0+(t1-t0)*float64(q)/4)
		if at-prev < total/16 {
			return false
		}
		prev = at
	}
	return true
}

// valueAt interpolates linearly between the points around t.
func valueAt(pts []trendPoint, t float64) float64 {
	for i := 1; i < len(pts); i++ {
		if pts[i].t >= t {
			a, b := pts[i-1], pts[i]
			if b.t == a.t {
				return b.v
			}
			return a.v + (b.v-a.v)*(t-a.t)/(b.t-a.t)
		}
	}
	return pts[len(pts)-1].v
}

// slope is the least-squares slope of v over t.
func slope(pts []trendPoint) float64 {
	n := float64(len(pts))
	var st, sv float64
	for _, p := range pts {
		st += p.t
		sv += p.v
	}
	mt, mv := st/n, sv/n
	var num, den float64
	for _, p := range pts {
		num += (p.t - mt) * (p.v - mv)
		den += (p.t - mt) * (p.t - mt)
	}
	if den == 0 {
		return 0
	}
	return num / den
}
