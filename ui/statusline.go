package ui

import (
	"path/filepath"
	"slices"
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
	hosts statusHosts
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

// Apply follows recording events (state changes), the other hosts (their
// clocks, host.lost and host.back) and moves the clock.
func (s statusLine) Apply(ev event.Event) statusLine {
	if ev.Time.After(s.clock) {
		s.clock = ev.Time
	}
	s = s.Observe(ev)
	if ev.Kind == event.KindFinding {
		s = s.hostFinding(ev)
	}
	var r *event.Recording
	switch b := ev.Body.(type) {
	case *event.Recording:
		r = b
	case event.Recording:
		r = &b
	}
	if r != nil {
		s.rec.State, s.rec.Reason, s.rec.Hint = r.State, r.Reason, r.Hint
		if r.State == "resumed" {
			s.rec.State = "recording"
		}
		if r.File != "" {
			s.rec.File = r.File
		}
	}
	return s
}

// recSegment renders REC ● file size, REC off, REC stopped: reason, or
// REC paused: reason — hint within room cells.
func (s statusLine) recSegment(room int) string {
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
		return s.pausedSegment(room)
	case "stopped":
		seg := st.RecStopped.Render("REC stopped")
		if s.rec.Reason != "" {
			seg += ": " + event.Sanitize(s.rec.Reason)
		}
		return seg
	}
	return st.RecOff.Render("REC off")
}

// pausedSegment says why recording paused and how to record elsewhere. The
// hint is what the person can act on, so as room runs out the reason is
// shortened, then the hint to its flag ("--record /other/fs/file.stk"), and
// the reason goes last.
func (s statusLine) pausedSegment(room int) string {
	head := s.env.st.RecStopped.Render("REC paused")
	hint := event.Sanitize(s.rec.Hint)
	if hint == "" {
		hint = "record elsewhere with --record /other/fs/file.stk"
	}
	short := hint
	if i := strings.Index(hint, " -"); i >= 0 {
		short = "use " + hint[i+1:]
	}
	reason := event.Sanitize(s.rec.Reason)
	for _, h := range []string{hint, short} {
		tail := " — " + h
		if reason != "" {
			if full := head + ": " + reason + tail; ansi.StringWidth(full) <= room {
				return full
			}
			if left := room - ansi.StringWidth(head+": "+tail); left >= 12 {
				return head + ": " + clip(reason, left) + tail
			}
		}
		if ansi.StringWidth(head+tail) <= room {
			return head + tail
		}
	}
	return clip(head+" — "+short, room)
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
	var after []string
	if x.mode != "" {
		after = append(after, x.mode)
	}
	if x.err != "" {
		after = append(after, st.Error.Render(x.err))
	}
	if len(s.hosts.names) > 0 { // the other hosts, after the local one
		fixed := ansi.StringWidth(strings.Join(append(append([]string{}, left...), after...), sep))
		reserve := ansi.StringWidth(sep) + ansi.StringWidth(x.short) + 1
		if !replay {
			reserve += ansi.StringWidth(sep) + min(ansi.StringWidth(s.recSegment(s.w)), 16)
		}
		if seg := s.hostsSegment(s.w - fixed - reserve); seg != "" {
			left = slices.Insert(left, len(left)-1, seg)
		}
	}
	if !replay {
		others := ansi.StringWidth(strings.Join(append(append([]string{}, left...), after...), sep))
		left = append(left, s.recSegment(s.w-others-ansi.StringWidth(sep)))
	}
	l := strings.Join(append(left, after...), sep)
	if x.err != "" && ansi.StringWidth(l) > s.w {
		// The error is what the last key did: it goes first, whole if it
		// can, and the rest after it as far as it fits.
		return clip(strings.Join(append([]string{st.Error.Render(x.err)}, left...), sep), s.w)
	}
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
