package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
)

// maxStripFindings bounds the conditions and notes the strip remembers.
const maxStripFindings = 500

// findingStrip lists findings, one line per condition (its raise, updates
// and clear folded together, "×N, last at T"), and notes; coloured by
// severity, which is also spelled out so it reads without colour.
//
// Order: critical conditions not yet acknowledged (a) nor cleared are
// pinned at the top; then what is still going on, worst first; then what
// has cleared; each group newest first. Notes rank with open warnings.
type findingStrip struct {
	env   paneEnv
	items []*stripItem          // in the order they started
	open  map[string]*stripItem // open conditions by host and key (openKey)
	acked map[string]bool       // acknowledged criticals, by stripItem.id
	w, h  int
	// named: there are several hosts, so every line names its host,
	// the local one's as local says (another host's line always does).
	named bool
	local string
	// focused: the strip has the keys (0), and sel is the selected line,
	// by its item's id so it stays on its finding as others come and go;
	// selAt is its place in display order, for when that item is gone.
	focused bool
	sel     string
	selAt   int
}

type stripItem struct {
	c    *event.Condition // nil for a note
	host string           // the host it is about, as its event says: "" is the local one
	at   time.Time        // a note's time; a condition's raise
	note bool             // a note: name is its author
	name string           // sanitized
	text string           // sanitized
}

func newFindingStrip(env paneEnv) findingStrip { return findingStrip{env: env} }

func (s findingStrip) SetSize(w, h int) findingStrip { s.w, s.h = w, h; return s }

// id names a condition across Set calls (a replay rebuilds the strip on
// every move), for its acknowledgement and selection; a note by its time,
// author and text.
func (it *stripItem) id() string {
	host := ""
	if it.host != "" { // two hosts can raise the same condition at once
		host = it.host + "\x00"
	}
	if it.c == nil {
		return host + "note@" + it.at.Format(time.RFC3339Nano) + "@" + it.name + "@" + it.text
	}
	f := it.c.First.Body.(*event.Finding)
	if f.Key != "" {
		return host + f.Key + "@" + it.at.Format(time.RFC3339Nano)
	}
	return host + f.Finding + "@" + it.at.Format(time.RFC3339Nano) + "@" + f.Summary
}

// openKey is a condition's key on its host: each host's detectors keep
// their own conditions, so the same key on two hosts is two lines.
func openKey(host, key string) string {
	if host == "" {
		return key
	}
	return host + "\x00" + key
}

// NameHosts makes every line name its host: there are several.
func (s findingStrip) NameHosts(local string) findingStrip {
	s.named, s.local = true, event.Sanitize(local)
	return s
}

// hostLabel is how a line names its item's host ("" when it need not).
func (s findingStrip) hostLabel(it *stripItem) string {
	switch {
	case it.host != "":
		return event.Sanitize(it.host)
	case !s.named:
		return ""
	case s.local != "":
		return s.local
	}
	return "local"
}

func (it *stripItem) cleared() bool { return it.c != nil && it.c.Cleared() }

// pinned: critical, not cleared, not acknowledged.
func (s findingStrip) pinned(it *stripItem) bool {
	return it.c != nil && it.c.Worst == event.Critical && !it.cleared() && !s.acked[it.id()]
}

// latest is when the item last changed: a note's time, a condition's
// latest event.
func (it *stripItem) latest() time.Time {
	if it.c == nil {
		return it.at
	}
	return it.c.Last.Time
}

// Add takes one finding or note event; other events are ignored. An update
// or clear joins its condition's line; a raise starts a new one.
func (s findingStrip) Add(ev event.Event) findingStrip {
	if n, ok := event.As[event.Note](ev); ok {
		s.items = append(s.items, &stripItem{host: ev.Host, at: ev.Time, note: true, name: event.Sanitize(n.Author), text: event.Sanitize(n.Text)})
	} else if f, ok := event.As[event.Finding](ev); ok {
		host := ev.Host
		if h, _, ok := lostFinding(ev); ok { // about the host it names
			host = h
		}
		k := openKey(host, f.Key)
		if it := s.open[k]; f.Continues() && it != nil {
			it.c.Add(ev)
			it.text = event.Sanitize(f.Summary)
			if f.State == event.FindingCleared {
				delete(s.open, k)
			}
			return s
		}
		c := event.NewCondition(ev)
		it := &stripItem{c: c, host: host, at: c.Since(), name: event.Sanitize(f.Finding), text: event.Sanitize(f.Summary)}
		s.items = append(s.items, it)
		if f.Key != "" && f.State != event.FindingCleared {
			if s.open == nil {
				s.open = map[string]*stripItem{}
			}
			s.open[k] = it
		}
	} else {
		return s
	}
	if len(s.items) > maxStripFindings+maxStripFindings/10 {
		s = s.trim()
	}
	return s
}

// trim keeps the maxStripFindings highest-ranked items (a tenth more may
// wait for the next trim): a pinned critical is never pushed out.
func (s findingStrip) trim() findingStrip {
	drop := map[*stripItem]bool{}
	order := s.ordered()
	for _, it := range order[maxStripFindings:] {
		drop[it] = true
	}
	kept := make([]*stripItem, 0, maxStripFindings)
	for _, it := range s.items {
		if !drop[it] {
			kept = append(kept, it)
		}
	}
	s.items = kept
	for k, it := range s.open {
		if drop[it] {
			delete(s.open, k)
		}
	}
	return s
}

// Set replaces the findings, as a replay does after every move. The
// acknowledgements are kept.
func (s findingStrip) Set(evs []event.Event) findingStrip {
	s.items, s.open = nil, nil
	for _, ev := range evs {
		s = s.Add(ev)
	}
	return s
}

// Acknowledge unpins the critical conditions pinned now; they keep their
// place among the open conditions, worst first.
func (s findingStrip) Acknowledge() findingStrip {
	acked := map[string]bool{}
	for _, it := range s.items { // what is no longer shown is forgotten
		if it.c == nil {
			continue
		}
		if id := it.id(); s.acked[id] || s.pinned(it) {
			acked[id] = true
		}
	}
	s.acked = acked
	return s
}

// Pinned counts the critical conditions waiting to be acknowledged.
func (s findingStrip) Pinned() int {
	n := 0
	for _, it := range s.items {
		if s.pinned(it) {
			n++
		}
	}
	return n
}

func (s findingStrip) Len() int { return len(s.items) }

// ordered returns the items in display order.
func (s findingStrip) ordered() []*stripItem {
	rank := func(it *stripItem) (int, int, event.Severity) {
		pin, open, sev := 0, 1, event.Warn // a note
		if it.c != nil {
			sev = it.c.Worst
			if s.pinned(it) {
				pin = 1
			}
			if it.cleared() {
				open = 0
			}
		}
		return pin, open, sev
	}
	out := slices.Clone(s.items)
	slices.SortStableFunc(out, func(a, b *stripItem) int {
		pa, oa, sa := rank(a)
		pb, ob, sb := rank(b)
		switch {
		case pa != pb:
			return pb - pa
		case oa != ob:
			return ob - oa
		case sa != sb:
			return int(sb - sa)
		}
		return b.latest().Compare(a.latest()) // newest first
	})
	return out
}

var sevLabel = [...]string{"info", "WARN", "CRIT"}

// Focus gives the strip the keys (or takes them back); the first line is
// selected unless a line already was.
func (s findingStrip) Focus(on bool) findingStrip {
	s.focused = on
	if on && s.sel == "" {
		s = s.selectAt(0)
	}
	return s
}

func (s findingStrip) Focused() bool { return s.focused }

// selected is the index in display order of the selected line (-1: none).
func (s findingStrip) selected(order []*stripItem) int {
	if len(order) == 0 {
		return -1
	}
	for i, it := range order {
		if it.id() == s.sel {
			return i
		}
	}
	return clamp(s.selAt, 0, len(order)-1) // it went (trimmed, or a replay moved back)
}

func (s findingStrip) selectAt(i int) findingStrip {
	order := s.ordered()
	if len(order) == 0 {
		s.sel, s.selAt = "", 0
		return s
	}
	i = clamp(i, 0, len(order)-1)
	s.sel, s.selAt = order[i].id(), i
	return s
}

// Move selects the line d lines down (up when negative).
func (s findingStrip) Move(d int) findingStrip {
	return s.selectAt(s.selected(s.ordered()) + d)
}

// Selected is the selected finding or note, nil when there is none.
func (s findingStrip) Selected() *stripItem {
	order := s.ordered()
	if i := s.selected(order); i >= 0 {
		return order[i]
	}
	return nil
}

// SelectedPos is the selected line's place, 1-based, and how many there are.
func (s findingStrip) SelectedPos() (int, int) {
	order := s.ordered()
	return s.selected(order) + 1, len(order)
}

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
		show = max(s.h-1, 1) // keep the last line for "+N more"
	}
	order := s.ordered()
	from, sel := 0, -1
	if s.focused {
		// The window scrolls to keep the selected line in sight.
		sel = s.selected(order)
		from = clamp(sel-show+1, 0, len(order)-show)
	}
	clock := func(t time.Time) string { return t.In(s.env.loc).Format("15:04:05") }
	var lines []string
	for i, it := range order[from : from+show] {
		if from+i == sel {
			lines = append(lines, s.selectedLine(it, clock))
			continue
		}
		lines = append(lines, clip(s.line(it, clock), s.w))
	}
	if show < len(s.items) && len(lines) < s.h {
		more := fmt.Sprintf("  +%d more", len(s.items)-show)
		if from > 0 {
			more = fmt.Sprintf("  +%d above, %d below", from, len(s.items)-show-from)
		}
		lines = append(lines, st.Muted.Render(more))
	}
	return block(strings.Join(lines, "\n"), s.w, s.h)
}

// line is one item's line, uncut: severity (or NOTE), when it was raised,
// its name, ×N and its latest time, and its summary.
func (s findingStrip) line(it *stripItem, clock func(time.Time) string) string {
	st := s.env.st
	host := ""
	if h := s.hostLabel(it); h != "" {
		host = st.Host.Render(h) + " "
	}
	if it.note {
		return st.Accent.Render("▌NOTE") + " " + st.Muted.Render(clock(it.at)) + " " + host +
			st.Accent.Render(it.name) + "  " + st.Text.Render(it.text)
	}
	sev := st.Sev(it.c.Worst)
	label := "CRIT"
	if int(it.c.Worst) >= 0 && int(it.c.Worst) < len(sevLabel) {
		label = sevLabel[it.c.Worst]
	}
	// ×N, last at T (or cleared at T): the condition's count and latest event.
	var more []string
	if n := it.c.Count(); n > 1 {
		more = append(more, fmt.Sprintf("×%d", n))
	}
	switch f := it.c.Finding(); {
	case f.State == event.FindingCleared:
		more = append(more, "cleared at "+clock(it.c.Last.Time))
	case it.c.Events > 1 || f.State == event.FindingUpdate:
		more = append(more, "last at "+clock(it.c.Last.Time))
	}
	if it.c.Worst == event.Critical && !it.cleared() && s.acked[it.id()] {
		more = append(more, "acknowledged")
	}
	name := sev.Render(it.name)
	if it.cleared() {
		name = st.Muted.Render(it.name)
	}
	line := sev.Render("▌"+label) + " " + st.Muted.Render(clock(it.at)) + " " + host + name
	if len(more) > 0 {
		line += " " + st.Muted.Render(strings.Join(more, ", "))
	}
	return line + "  " + st.Text.Render(it.text)
}

// selectedLine is the selected line while the strip has the keys: marked
// ▶ (so it shows without colour), in the selection style, with what Enter
// does.
func (s findingStrip) selectedLine(it *stripItem, clock func(time.Time) string) string {
	st := s.env.st
	line := "▶" + strings.TrimPrefix(ansi.Strip(s.line(it, clock)), "▌")
	hint := "  enter: open"
	if w := ansi.StringWidth(line); w+ansi.StringWidth(hint) > s.w {
		line = clip(line, max(s.w-ansi.StringWidth(hint), 1))
	}
	return st.Selected.Render(clip(line+hint, s.w))
}
