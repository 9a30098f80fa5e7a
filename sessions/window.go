package sessions

import (
	"math"
	"sort"
	"time"
)

// A recording is in write order, which is not time order: the kernel log's
// backlog is written after the session's first samples, a bad clock can
// stamp one event years ahead, and notes appended to a finished file come
// after its trailer. So a reader that wants the events up to some time
// cannot stop at the first later event it meets. What lets it stop early is
// the time index: once no segment still ahead holds an event at or before
// that time, none can come. tailMin makes that a binary search.

// windowIndex sets mainEnd and tailMin once.
func (r *Reader) windowIndex() {
	r.windowOnce.Do(func() {
		r.mainEnd = r.dataEnd
		if _, _, merged := r.appended(); merged {
			// Appended events are merged in by time from memory; only the
			// data before them is read in file order.
			r.mainEnd = r.lateFrom
		}
		n := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].Off >= r.mainEnd })
		r.tailMin = make([]int64, n)
		least := int64(math.MaxInt64)
		for i := n - 1; i >= 0; i-- {
			if s := r.segs[i]; s.Events > 0 {
				least = min(least, s.Min)
			}
			r.tailMin[i] = least
		}
	})
}

// readEnd is where reading in file order may stop for the events at or
// before t: the start of the first segment from which on the index shows
// none, else the end of the file-order data. The index clamps times to
// 1700..2200, and so does unixNano, so the comparison stays safe for
// events outside those years.
func (r *Reader) readEnd(t time.Time) int64 {
	r.windowIndex()
	ns := unixNano(t)
	i := sort.Search(len(r.tailMin), func(i int) bool { return r.tailMin[i] > ns })
	if i == len(r.tailMin) {
		return r.mainEnd
	}
	return r.segs[i].Off
}

// IterRange is Iter(from) for a reader that wants the events from from to
// until: it stops reading the file where the time index shows that no
// event at or before until is left. Events are still in file order, so it
// also delivers events after until that come before that place: a caller
// selects the window by each event's time. Appended events (notes) are
// merged in by time as Iter does, after until too.
func (r *Reader) IterRange(from, until time.Time) *Iter {
	return r.iter(from, r.readEnd(until))
}

// Passed reports whether every event at or before t that this Iter would
// deliver has been delivered (or lost to damage): none is read ahead or
// waiting among the appended events, and the Iter is past the last segment
// that, by the time index, can hold one. A reader collecting the events of
// a time window (handoff's evidence) can then let the window go.
func (it *Iter) Passed(t time.Time) bool {
	if it.hasMain && !it.mainEv.Time.After(t) {
		return false
	}
	if len(it.late) > 0 && !it.late[0].Time.After(t) {
		return false
	}
	if it.done {
		return true
	}
	pos := it.cs.off // the next chunk, between segments
	if it.inSeg {
		pos = it.segOff
	}
	return pos >= it.r.readEnd(t)
}

// PlausibleSpan is the part of the recording a replay plays and times
// given to commands are resolved against (see plausibleSpan): Start and
// End, unless the file holds events dated far from the rest.
func (r *Reader) PlausibleSpan() (lo, hi time.Time) { return r.plausibleSpan(plausibleGap) }

// plausibleSpan is the part of the recording a replay plays: from the
// session's start (the header's, or the time in the index nearest to it)
// out in both directions through the earliest and latest times the index
// holds (each segment's Min and Max), as long as no two of them in a row
// are more than gap apart. A kernel log backlog minutes before the start,
// or a pause of hours, stays inside; an event stamped years off by a bad
// clock (or a hostile file) does not stretch it. With no events it is the
// header's start.
func (r *Reader) plausibleSpan(gap time.Duration) (lo, hi time.Time) {
	var pts []int64
	for _, s := range r.segs {
		if s.Events > 0 {
			pts = append(pts, s.Min, s.Max)
		}
	}
	if len(pts) == 0 {
		return r.start, r.end
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i] < pts[j] })
	// The anchor: the point nearest the header's start, or the median
	// when the header has none.
	a := len(pts) / 2
	if s := r.hdr.Started; !s.IsZero() {
		ns := unixNano(s)
		a = sort.Search(len(pts), func(i int) bool { return pts[i] >= ns })
		if a == len(pts) || (a > 0 && apart(pts[a-1], ns) < apart(ns, pts[a])) {
			a--
		}
	}
	g := uint64(gap)
	i, j := a, a
	for i > 0 && apart(pts[i-1], pts[i]) <= g {
		i--
	}
	for j < len(pts)-1 && apart(pts[j], pts[j+1]) <= g {
		j++
	}
	return fromNano(pts[i]), fromNano(pts[j])
}

// apart is b-a for a <= b, which does not fit an int64 for index times
// 500 years apart.
func apart(a, b int64) uint64 { return uint64(b) - uint64(a) }
