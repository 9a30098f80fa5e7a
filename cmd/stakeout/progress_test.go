package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/handoff"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
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

// TestPassProgressLine: handoff and extract, which read a recording in
// passes inside their packages, draw the same line through their progress
// hooks once the read has gone on 2 s, naming the pass; the line goes to
// its own writer (stderr), never into the output, is erased at the end, and
// handoff writes the same report with the line as without it.
func TestPassProgressLine(t *testing.T) {
	start := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "big.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "web-3", Started: start, Interval: time.Second}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20_000 // 10 a second for 2000 s
	for i := range n {
		if err := w.Write(event.New(start.Add(time.Duration(i)*100*time.Millisecond), "signals",
			&schema.Trace{PID: 100 + i%7, State: "attached"})); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			w.Flush()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	slowLine := func(w io.Writer) *progressLine {
		clock := start
		return newProgressLine(w, "big.stk", func() time.Time { clock = clock.Add(time.Second); return clock })
	}
	handoffOut := func(line *progressLine) string {
		var out bytes.Buffer
		opts := handoff.Options{File: path}
		opts.Progress = line.hook()
		if err := writeHandoff(&out, nil, r, opts, "md", line); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	var stderr bytes.Buffer
	with, without := handoffOut(slowLine(&stderr)), handoffOut(slowLine(nil))
	if with != without || strings.Contains(with, "stakeout: reading") {
		t.Error("the handoff differs with the progress line")
	}
	line := stderr.String()
	if !strings.Contains(line, "stakeout: reading big.stk (pass 1 of 2):  41%, 04:13:39 of the recording, 8192 events, 2 s") ||
		strings.Contains(line, "\n") || !strings.HasSuffix(line, "\r\x1b[K") {
		t.Errorf("handoff's progress %q", line)
	}

	stderr.Reset()
	xl := slowLine(&stderr)
	_, err = sessions.Extract(r, path, filepath.Join(t.TempDir(), "x.stk"), start.Add(1000*time.Second), start.Add(1900*time.Second),
		sessions.ExtractOptions{Progress: xl.hook()})
	xl.done()
	if err != nil {
		t.Fatal(err)
	}
	line = stderr.String()
	for pass := 1; pass <= 3; pass++ {
		if !strings.Contains(line, fmt.Sprintf("stakeout: reading big.stk (pass %d of 3): ", pass)) {
			t.Errorf("no line for extract's pass %d: %q", pass, line)
		}
	}
	if strings.Contains(line, "\n") || !strings.HasSuffix(line, "\r\x1b[K") {
		t.Errorf("extract's progress %q", line)
	}
	if quiet := newProgressLine(nil, "big.stk", time.Now); quiet.hook() != nil {
		t.Error("a line that shows nothing still asks for a call per event")
	}
}
