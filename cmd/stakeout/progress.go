package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

// A reader that runs for minutes with nothing on the screen looks hung: a
// 65-minute recording took 65 s to report. When stderr is a terminal and
// a read has gone on for progressAfter, one line on stderr says how far it
// is (by the time of the event it has reached, over the recording's span)
// and is rewritten a few times a second; it is erased when the read ends.
// Nothing is written when stderr is not a terminal (scripts, tests).
const (
	progressAfter = 2 * time.Second
	progressEvery = 250 * time.Millisecond
)

// progressIter passes a reader's events on and shows the progress line.
type progressIter struct {
	engine.Iterator
	w          io.Writer // nil: not a terminal, show nothing
	label      string
	start, end time.Time // the recording's span
	now        func() time.Time
	began      time.Time
	next       time.Time // when to look at the clock again
	n          uint64
	shown      bool
}

// withProgress wraps it, an iterator over r (the file at path), with the
// progress line. done erases the line; call it when the read ends. A
// command that streams what it reads to stdout (events) shows none when
// stdout is a terminal: its output is the progress, and the line would
// cut into it.
func withProgress(it engine.Iterator, r *sessions.Reader, path string, streams bool) (wrapped engine.Iterator, done func()) {
	var w io.Writer
	if term.IsTerminal(os.Stderr.Fd()) && !(streams && term.IsTerminal(os.Stdout.Fd())) {
		w = os.Stderr
	}
	sp := fileSpan(r)
	p := newReadProgress(it, w, path, sp.Start, sp.End, time.Now)
	return p, p.done
}

func newReadProgress(it engine.Iterator, w io.Writer, label string, start, end time.Time, now func() time.Time) *progressIter {
	t := now()
	return &progressIter{Iterator: it, w: w, label: label, start: start, end: end, now: now, began: t, next: t.Add(progressAfter)}
}

func (p *progressIter) Next() (event.Event, bool) {
	ev, ok := p.Iterator.Next()
	// The clock is read every 4096 events: a packet batch is one.
	if p.n++; ok && p.w != nil && p.n%4096 == 0 {
		if t := p.now(); !t.Before(p.next) {
			p.next = t.Add(progressEvery)
			p.show(ev.Time, t)
		}
	}
	return ev, ok
}

func (p *progressIter) show(at, t time.Time) {
	pct := 0.0
	if span := p.end.Sub(p.start); span > 0 {
		pct = min(max(100*float64(at.Sub(p.start))/float64(span), 0), 100)
	}
	fmt.Fprintf(p.w, "\r\x1b[Kstakeout: reading %s: %3.0f%%, %s of the recording, %d events, %.0f s",
		event.Sanitize(p.label), pct, at.UTC().Format("15:04:05"), p.n, t.Sub(p.began).Seconds())
	p.shown = true
}

// done erases the line, if it was shown.
func (p *progressIter) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
