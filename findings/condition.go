package findings

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
)

// One finding per condition. A detector names each condition with a key (the
// finding and what it is about, never a figure that drifts) and tells a
// conds tracker, sample by sample, that the condition holds, with its
// figures and severity now. The tracker decides what reaches the stream:
//
//   - the first time: the finding itself, raised (State "");
//   - while it lasts: an update (State "update", with Since and Count), at
//     once when the severity rises; when it falls, or the figures changed
//     materially (the detector says what is material), at most once per
//     updateEvery; otherwise, still holding, at most once per refreshEvery,
//     so "last at T" stays near the truth without a finding per sample;
//   - when the detector sees it end: a clear (State "cleared") with the
//     latest figures and the final count. Conditions made of events rather
//     than a state (segfaults, bursts) end when the tracker's quiet window
//     passes without another one: sweep clears them, and the next
//     occurrence is raised as a new finding.
const (
	updateEvery  = 10 * time.Second
	refreshEvery = time.Minute
	maxConds     = 4096 // conditions one tracker keeps; the least recently seen goes first
)

// material reports whether cur's figures differ enough from prev, the last
// finding sent, to be worth an update.
type material func(prev, cur *event.Finding) bool

type cond struct {
	since, seen, sent time.Time // raised; last held; last emitted
	count, sentCount  int       // occurrences so far; count at the last emit
	last, sentF       *event.Finding
}

// conds tracks one detector's open conditions. The zero value is ready.
type conds struct {
	quiet time.Duration // > 0: sweep clears a condition not held for this long
	max   int           // 0: maxConds
	open  map[string]*cond
	due   time.Time // no condition is quiet long enough before this
}

// condKey builds a key: the finding name, then each part; a string part
// that is empty or holds a space or a quote is quoted, so keys cannot
// collide.
func condKey(name string, parts ...any) string {
	var b strings.Builder
	b.WriteString(name)
	for _, p := range parts {
		b.WriteByte(' ')
		s, ok := p.(string)
		if !ok {
			s = fmt.Sprint(p)
		} else if s == "" || strings.ContainsAny(s, " \"\t\n") {
			s = strconv.Quote(s)
		}
		b.WriteString(s)
	}
	return b.String()
}

// hold records one more occurrence of f.Key at time at, with f's figures.
// It returns the finding to emit, or nil.
func (c *conds) hold(at time.Time, f *event.Finding, mat material) *event.Finding {
	return c.observe(at, f, mat, true)
}

// restate gives new figures for the occurrence last held (a burst that grew
// after it was raised). When that occurrence is the one last emitted its
// new figures go out at once if material; otherwise it is a plain update.
func (c *conds) restate(at time.Time, f *event.Finding, mat material) *event.Finding {
	return c.observe(at, f, mat, false)
}

func (c *conds) observe(at time.Time, f *event.Finding, mat material, occurrence bool) *event.Finding {
	k := c.open[f.Key]
	if k != nil && c.quiet > 0 && at.Sub(k.seen) >= c.quiet {
		delete(c.open, f.Key) // quiet too long (not swept): a new occurrence
		k = nil
	}
	if c.quiet > 0 && (c.due.IsZero() || at.Add(c.quiet).Before(c.due)) {
		c.due = at.Add(c.quiet)
	}
	if k == nil {
		c.evict()
		if c.open == nil {
			c.open = map[string]*cond{}
		}
		c.open[f.Key] = &cond{since: at, seen: at, sent: at, count: 1, sentCount: 1, last: f, sentF: f}
		f.State, f.Since, f.Count = "", time.Time{}, 0
		return f
	}
	if occurrence {
		k.count++
	}
	k.seen, k.last = at, f
	since := at.Sub(k.sent)
	prev := k.sentF
	emit := false
	switch {
	case f.Severity > prev.Severity:
		emit = true
	case !occurrence && k.count == k.sentCount && mat != nil && mat(prev, f):
		emit = true // the occurrence on screen grew: say so now
	case since < updateEvery:
	case f.Severity < prev.Severity, mat != nil && mat(prev, f):
		emit = true
	case since >= refreshEvery && k.count > k.sentCount:
		emit = true
	}
	if !emit {
		return nil
	}
	k.sent, k.sentCount, k.sentF = at, k.count, f
	f.State, f.Since, f.Count = event.FindingUpdate, k.since.UTC(), k.count
	return f
}

// end clears the condition key if it is open: the finding with its latest
// figures and State "cleared".
func (c *conds) end(at time.Time, key string) *event.Finding {
	k := c.open[key]
	if k == nil {
		return nil
	}
	delete(c.open, key)
	f := *k.last
	f.State, f.Since, f.Count = event.FindingCleared, k.since.UTC(), k.count
	return &f
}

// endQuiet clears, in key order, every condition not held for quiet.
func (c *conds) endQuiet(at time.Time, quiet time.Duration) []*event.Finding {
	var keys []string
	for key, k := range c.open {
		if at.Sub(k.seen) >= quiet {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	out := make([]*event.Finding, 0, len(keys))
	for _, key := range keys {
		out = append(out, c.end(at, key))
	}
	return out
}

// sweep clears, in key order, every condition not held for the quiet
// window. Detectors whose conditions are events call it with every event's
// time before they look at the event; it costs a comparison until a
// condition may be due.
func (c *conds) sweep(at time.Time) []*event.Finding {
	if c.quiet <= 0 || c.due.IsZero() || at.Before(c.due) {
		return nil
	}
	out := c.endQuiet(at, c.quiet)
	c.due = time.Time{}
	for _, k := range c.open {
		if d := k.seen.Add(c.quiet); c.due.IsZero() || d.Before(c.due) {
			c.due = d
		}
	}
	return out
}

// isOpen says whether key is open (and, with a quiet window, not stale at at).
func (c *conds) isOpen(key string, at time.Time) bool {
	k := c.open[key]
	return k != nil && (c.quiet <= 0 || at.Sub(k.seen) < c.quiet)
}

// count is how many times key was held in its current occurrence; 0 if it
// is not open.
func (c *conds) count(key string, at time.Time) int {
	if !c.isOpen(key, at) {
		return 0
	}
	return c.open[key].count
}

// reset forgets every condition without a word (time went back: another
// recording follows).
func (c *conds) reset() { clear(c.open); c.due = time.Time{} }

// evict makes room for one more condition by forgetting the one seen least
// recently.
func (c *conds) evict() {
	limit := c.max
	if limit <= 0 {
		limit = maxConds
	}
	if len(c.open) < limit {
		return
	}
	var oldest string
	var at time.Time
	for key, k := range c.open {
		if oldest == "" || k.seen.Before(at) || (k.seen.Equal(at) && key < oldest) {
			oldest, at = key, k.seen
		}
	}
	delete(c.open, oldest)
}
