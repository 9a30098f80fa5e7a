package ui

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
)

// statusLine is the bottom line: host, clock, recorder, mode and a key hint.
type statusLine struct {
	env   paneEnv
	host  string // sanitized
	rec   RecordingMsg
	clock time.Time // time of the latest event applied, or the replay position
	w     int
}

// statusExtra is what the root adds at draw time from other components.
type statusExtra struct {
	mode  string // styled segment for replay or freeze, may be empty
	focus string // "pane 1/2"
	hint  string // short help
	short string // the least hint: "? help"
	err   string // last error, sanitized
}

func newStatusLine(host string, env paneEnv) statusLine {
	return statusLine{env: env, host: event.Sanitize(host), rec: RecordingMsg{State: "off"}}
}

func (s statusLine) SetWidth(w int) statusLine       { s.w = w; return s }
func (s statusLine) SetClock(t time.Time) statusLine { s.clock = t; return s }

// Record takes the engine's periodic recorder report.
func (s statusLine) Record(m RecordingMsg) statusLine { s.rec = m; return s }

// Apply follows recording events (state changes) and moves the clock.
func (s statusLine) Apply(ev event.Event) statusLine {
	if ev.Time.After(s.clock) {
		s.clock = ev.Time
	}
	var r *event.Recording
	switch b := ev.Body.(type) {
	case *event.Recording:
		r = b
	case event.Recording:
		r = &b
	}
	if r != nil {
		s.rec.State, s.rec.Reason = r.State, r.Reason
		if r.File != "" {
			s.rec.File = r.File
		}
	}
	return s
}

// recSegment renders REC ● file size, REC off, or REC stopped: reason.
func (s statusLine) recSegment() string {
	st := s.env.st
	file := filepath.Base(event.Sanitize(s.rec.File))
	switch s.rec.State {
	case "recording":
		seg := st.RecOn.Render("REC ●")
		if s.rec.File != "" {
			seg += " " + file
		}
		if s.rec.Bytes > 0 {
			seg += " " + fmtBytes(s.rec.Bytes)
		}
		return seg
	case "paused":
		return st.RecStopped.Render("REC paused") + " " + file
	case "stopped":
		seg := st.RecStopped.Render("REC stopped")
		if s.rec.Reason != "" {
			seg += ": " + event.Sanitize(s.rec.Reason)
		}
		return seg
	}
	return st.RecOff.Render("REC off")
}

func (s statusLine) View(x statusExtra, replay bool, now time.Time) string {
	st := s.env.st
	clock := s.clock
	if clock.IsZero() {
		clock = now
	}
	sep := st.Separator.Render(" │ ")
	var left []string
	if s.host != "" {
		left = append(left, st.Host.Render(s.host))
	}
	left = append(left, clock.In(s.env.loc).Format("15:04:05"))
	if !replay {
		left = append(left, s.recSegment())
	}
	if x.mode != "" {
		left = append(left, x.mode)
	}
	if x.err != "" {
		left = append(left, st.Error.Render(x.err))
	}
	l := strings.Join(left, sep)
	// As room runs out the pane counter goes first, then the hint shrinks.
	for _, right := range []string{x.focus + "  " + x.hint, x.hint, x.short} {
		if right == "" {
			continue
		}
		if gap := s.w - ansi.StringWidth(l) - ansi.StringWidth(right); gap >= 1 {
			return l + strings.Repeat(" ", gap) + right
		}
	}
	return clip(l, s.w)
}
