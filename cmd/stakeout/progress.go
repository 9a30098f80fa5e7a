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

// progressLine is the line itself: it counts the events read, looks at
// the clock every 4096 of them (a packet batch is one) and says when to
// rewrite the line.
type progressLine struct {
	w     io.Writer // nil: not a terminal, show nothing
	label string
	now   func() time.Time
	began time.Time
	next  time.Time // when to look at the clock again
	t     time.Time // the clock when due last said yes
	n     uint64
	shown bool
}

// stderrProgress is the line on stderr for a read of the file at path,
// or one that shows nothing when stderr is not a terminal. A command that
// streams what it reads to stdout (events) shows none when stdout is a
// terminal: its output is the progress, and the line would cut into it.
func stderrProgress(path string, streams bool) *progressLine {
	var w io.Writer
	if term.IsTerminal(os.Stderr.Fd()) && !(streams && term.IsTerminal(os.Stdout.Fd())) {
		w = os.Stderr
	}
	return newProgressLine(w, path, time.Now)
}

func newProgressLine(w io.Writer, label string, now func() time.Time) *progressLine {
	t := now()
	return &progressLine{w: w, label: label, now: now, began: t, next: t.Add(progressAfter)}
}

// due counts one event read and says whether to rewrite the line now.
func (l *progressLine) due() bool {
	if l.n++; l.w == nil || l.n%4096 != 0 {
		return false
	}
	t := l.now()
	if t.Before(l.next) {
		return false
	}
	l.next, l.t = t.Add(progressEvery), t
	return true
}

// show rewrites the line: stage says which pass of a read in several
// ("" for one), pct how far it is, at the time of the event reached.
func (l *progressLine) show(stage string, pct float64, at time.Time) {
	fmt.Fprintf(l.w, "\r\x1b[Kstakeout: reading %s%s: %3.0f%%, %s of the recording, %d events, %.0f s",
		event.Sanitize(l.label), stage, pct, at.UTC().Format("15:04:05"), l.n, l.t.Sub(l.began).Seconds())
	l.shown = true
}

// hook is the progress hook of a reader that goes through the file in
// passes (handoff, extract); nil when the line shows nothing, so the
// reader does not call it per event for nothing.
func (l *progressLine) hook() func(sessions.Progress) {
	if l.w == nil {
		return nil
	}
	return func(p sessions.Progress) {
		if l.due() {
			l.show(fmt.Sprintf(" (pass %d of %d)", p.Pass, p.Passes), 100*p.Done, p.At)
		}
	}
}

// done erases the line, if it was shown.
func (l *progressLine) done() {
	if l.shown {
		fmt.Fprint(l.w, "\r\x1b[K")
		l.shown = false
	}
}

// progressIter passes a reader's events on and shows the progress line.
type progressIter struct {
	engine.Iterator
	*progressLine
	start, end time.Time // the recording's span
}

// withProgress wraps it, an iterator over r (the file at path, or the
// files, for several), with the progress line (see stderrProgress). done
// erases the line; call it when the read ends.
func withProgress(it engine.Iterator, r sessions.Recording, path string, streams bool) (wrapped engine.Iterator, done func()) {
	sp := fileSpan(r)
	p := &progressIter{Iterator: it, progressLine: stderrProgress(path, streams), start: sp.Start, end: sp.End}
	return p, p.done
}

func newReadProgress(it engine.Iterator, w io.Writer, label string, start, end time.Time, now func() time.Time) *progressIter {
	return &progressIter{Iterator: it, progressLine: newProgressLine(w, label, now), start: start, end: end}
}

func (p *progressIter) Next() (event.Event, bool) {
	ev, ok := p.Iterator.Next()
	if ok && p.due() {
		pct := 0.0
		if span := p.end.Sub(p.start); span > 0 {
			pct = min(max(100*float64(ev.Time.Sub(p.start))/float64(span), 0), 100)
		}
		p.show("", pct, ev.Time)
	}
	return ev, ok
}
