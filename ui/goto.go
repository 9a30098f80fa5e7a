package ui

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// gotoInput is the one-line "go to" editor opened by g in a replay. The
// note input (m) edits with it too, with a longer limit.
type gotoInput struct {
	active bool
	value  string
	err    string
	keys   gotoKeys
	limit  int // runes
}

type gotoKeys struct{ Submit, Cancel, Erase, Clear key.Binding }

func newGotoInput() gotoInput {
	return gotoInput{limit: gotoMaxLen, keys: gotoKeys{
		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "go")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Erase:  key.NewBinding(key.WithKeys("backspace"), key.WithHelp("⌫", "erase")),
		Clear:  key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "clear")),
	}}
}

const gotoMaxLen = 40

func (g gotoInput) Active() bool { return g.active }
func (g gotoInput) Open() gotoInput {
	g.active, g.value, g.err = true, "", ""
	return g
}
func (g gotoInput) Close() gotoInput { g.active = false; return g }

// Fail keeps the input open and shows why the entry was not accepted.
func (g gotoInput) Fail(err error) gotoInput { g.err = err.Error(); return g }

// Update edits the line; submit is true when Enter was pressed.
func (g gotoInput) Update(msg tea.KeyPressMsg) (_ gotoInput, submit bool) {
	switch {
	case key.Matches(msg, g.keys.Submit):
		return g, true
	case key.Matches(msg, g.keys.Cancel):
		return g.Close(), false
	case key.Matches(msg, g.keys.Erase):
		if _, n := utf8.DecodeLastRuneInString(g.value); n > 0 {
			g.value = g.value[:len(g.value)-n]
		}
	case key.Matches(msg, g.keys.Clear):
		g.value = ""
	case msg.Text != "":
		g = g.Insert(msg.Text)
	}
	g.err = ""
	return g, false
}

// Insert adds typed or pasted text, without control characters (a pasted
// newline becomes a space), up to the limit.
func (g gotoInput) Insert(text string) gotoInput {
	text = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		case r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, text)
	room := g.limit - utf8.RuneCountInString(g.value)
	if utf8.RuneCountInString(text) > room {
		if room <= 0 {
			return g
		}
		text = string([]rune(text)[:room])
	}
	g.value += text
	return g
}

func (g gotoInput) View(env paneEnv, w int) string {
	st := env.st
	line := st.Prompt.Render("go to ›") + " " + st.Text.Render(g.value) + st.BarCursor.Render("▏") +
		st.Muted.Render("  HH:MM:SS, +30s, -5m · enter go · esc cancel")
	if g.err != "" {
		line = st.Prompt.Render("go to ›") + " " + st.Text.Render(g.value) + st.BarCursor.Render("▏") + "  " + st.Error.Render(g.err)
	}
	return clip(line, w)
}

// parseGoto reads a wall-clock time (HH:MM:SS or HH:MM, in loc, on the day
// that puts it inside the recording), an RFC 3339 time, or an offset from
// pos such as +30s, -5m or -1h30m. The result is clamped to [start, end].
func parseGoto(in string, pos, start, end time.Time, loc *time.Location) (time.Time, error) {
	in = strings.TrimSpace(in)
	clampT := func(t time.Time) time.Time {
		if t.Before(start) {
			return start
		}
		if t.After(end) {
			return end
		}
		return t
	}
	if in == "" {
		return time.Time{}, fmt.Errorf("type a time such as 04:12:30 or +30s")
	}
	if in[0] == '+' || in[0] == '-' {
		s := in[1:]
		if s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
			s += "s" // a bare number is seconds
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("bad offset %q: want e.g. +30s, -5m, +1h2m", in)
		}
		if in[0] == '-' {
			d = -d
		}
		return clampT(pos.Add(d)), nil
	}
	if t, err := time.Parse(time.RFC3339, in); err == nil {
		return clampT(t), nil
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		clock, err := time.Parse(layout, in)
		if err != nil {
			continue
		}
		// Try the day the recording starts, then each following day it spans.
		var best time.Time
		for day, n := start.In(loc), 0; n < 366 && !day.After(end.In(loc).Add(24*time.Hour)); day, n = day.AddDate(0, 0, 1), n+1 {
			t := time.Date(day.Year(), day.Month(), day.Day(), clock.Hour(), clock.Minute(), clock.Second(), 0, loc)
			if best.IsZero() {
				best = t
			}
			if !t.Before(start) && !t.After(end) {
				return t, nil
			}
		}
		return clampT(best), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q: want HH:MM:SS, +30s or -5m", in)
}
