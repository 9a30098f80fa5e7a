package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// sliceIter hands out evs, then stops.
type sliceIter struct{ evs []event.Event }

func (s *sliceIter) Next() (event.Event, bool) {
	if len(s.evs) == 0 {
		return event.Event{}, false
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, true
}
func (s *sliceIter) Err() error { return nil }

// TestReadProgressLine: a read that takes longer than 2 s shows how far it
// is on one line (rewritten, not scrolled), every event still passes
// through, and the line is erased at the end; a quick read shows nothing,
// nor does one whose stderr is not a terminal.
func TestReadProgressLine(t *testing.T) {
	start := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	const n = 100_000
	mk := func() *sliceIter {
		evs := make([]event.Event, n)
		for i := range evs {
			evs[i] = event.Event{Time: start.Add(time.Duration(i) * 36 * time.Millisecond), Kind: "x"}
		}
		return &sliceIter{evs}
	}
	read := func(w *bytes.Buffer, step time.Duration) int {
		clock := start
		now := func() time.Time { clock = clock.Add(step); return clock }
		var it *progressIter
		if w != nil { // a nil *bytes.Buffer would be a non-nil io.Writer
			it = newReadProgress(mk(), w, "big.stk", start, start.Add(time.Hour), now)
		} else {
			it = newReadProgress(mk(), nil, "big.stk", start, start.Add(time.Hour), now)
		}
		got := 0
		for _, ok := it.Next(); ok; _, ok = it.Next() {
			got++
		}
		it.done()
		return got
	}
	var slow bytes.Buffer
	if got := read(&slow, time.Second); got != n { // the clock is read every 4096 events
		t.Fatalf("%d events passed, want %d", got, n)
	}
	out := slow.String()
	if !strings.Contains(out, "stakeout: reading big.stk:   8%, 04:04:54 of the recording, 8192 events, 2 s") || strings.Contains(out, "\n") {
		t.Errorf("progress %q", out)
	}
	if !strings.HasSuffix(out, "\r\x1b[K") || strings.Count(out, "stakeout: reading") < 3 {
		t.Errorf("want a few updates and the line erased at the end: %q", out)
	}
	var quick bytes.Buffer
	read(&quick, time.Microsecond)
	if quick.Len() != 0 {
		t.Errorf("a read under 2 s showed %q", quick.String())
	}
	if got := read(nil, time.Second); got != n {
		t.Errorf("%d events passed without a terminal", got)
	}
}
