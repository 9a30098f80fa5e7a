package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
)

// maxStripFindings bounds the findings the strip remembers.
const maxStripFindings = 500

// findingStrip lists findings newest first, one line each, coloured by
// severity; the severity is also spelled out so it reads without colour.
type findingStrip struct {
	env   paneEnv
	items []stripItem // oldest first
	w, h  int
}

type stripItem struct {
	at   time.Time
	f    event.Finding
	note bool   // a note: name is its author
	name string // sanitized
	text string // sanitized
}

func newFindingStrip(env paneEnv) findingStrip { return findingStrip{env: env} }

func (s findingStrip) SetSize(w, h int) findingStrip { s.w, s.h = w, h; return s }

// Add appends one finding or note event; other events are ignored.
func (s findingStrip) Add(ev event.Event) findingStrip {
	if n, ok := event.AsNote(ev); ok {
		s.items = append(s.items, stripItem{at: ev.Time, note: true, name: event.Sanitize(n.Author), text: event.Sanitize(n.Text)})
	} else if f, ok := event.AsFinding(ev); ok {
		s.items = append(s.items, stripItem{at: ev.Time, f: *f, name: event.Sanitize(f.Finding), text: event.Sanitize(f.Summary)})
	} else {
		return s
	}
	if len(s.items) > maxStripFindings {
		s.items = append([]stripItem(nil), s.items[len(s.items)-maxStripFindings:]...)
	}
	return s
}

// Set replaces the findings, as a replay does after every move.
func (s findingStrip) Set(evs []event.Event) findingStrip {
	s.items = nil
	if len(evs) > maxStripFindings {
		evs = evs[len(evs)-maxStripFindings:]
	}
	for _, ev := range evs {
		s = s.Add(ev)
	}
	return s
}

func (s findingStrip) Len() int { return len(s.items) }

var sevLabel = [...]string{"info", "WARN", "CRIT"}

func (s findingStrip) View() string {
	st := s.env.st
	if s.h <= 0 {
		return ""
	}
	if len(s.items) == 0 {
		return block(st.Muted.Render("findings: none yet"), s.w, s.h)
	}
	show := len(s.items)
	if show > s.h {
		show = max(s.h-1, 1) // keep the last line for "+N older"
	}
	var lines []string
	for i := range show {
		it := s.items[len(s.items)-1-i]
		if it.note {
			lines = append(lines, clip(st.Accent.Render("▌NOTE")+" "+
				st.Muted.Render(it.at.In(s.env.loc).Format("15:04:05"))+" "+
				st.Accent.Render(it.name)+"  "+st.Text.Render(it.text), s.w))
			continue
		}
		sev := st.Sev(it.f.Severity)
		label := "CRIT"
		if int(it.f.Severity) >= 0 && int(it.f.Severity) < len(sevLabel) {
			label = sevLabel[it.f.Severity]
		}
		line := sev.Render("▌"+label) + " " +
			st.Muted.Render(it.at.In(s.env.loc).Format("15:04:05")) + " " +
			sev.Render(it.name) + "  " + st.Text.Render(it.text)
		lines = append(lines, clip(line, s.w))
	}
	if show < len(s.items) && len(lines) < s.h {
		lines = append(lines, st.Muted.Render(fmt.Sprintf("  +%d older findings", len(s.items)-show)))
	}
	return block(strings.Join(lines, "\n"), s.w, s.h)
}
