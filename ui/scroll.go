package ui

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
)

// rowList is what a timeline pane scrolls over: its rows numbered in the
// order they came (their seq), of which it keeps the newest.
type rowList interface {
	// span is the seqs of the rows kept: [first, end).
	span() (first, end int)
	// text is what a search looks for in a row: the row as shown, unclipped.
	text(seq int) string
}

// tlKeys are the keys every timeline pane (signals, packets, kmsg) shares.
type tlKeys struct {
	Up, Down, PgUp, PgDown, Home, End, Search, Next, Prev, Clear key.Binding
}

var timelineKeys = tlKeys{
	Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓ k/j", "select a row (the view stops following)")),
	Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "next row")),
	PgUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup/pgdn", "page back / forward")),
	PgDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page forward")),
	Home:   key.NewBinding(key.WithKeys("home"), key.WithHelp("home", "oldest row kept")),
	End:    key.NewBinding(key.WithKeys("end", "F"), key.WithHelp("F/end", "follow the newest rows again")),
	Search: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search (smart case)")),
	Next:   key.NewBinding(key.WithKeys("n"), key.WithHelp("n/N", "older / newer match")),
	Prev:   key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "newer match")),
	Clear:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear the search, then follow again")),
}

// help lists the timeline keys once each (pairs share a line).
func (k tlKeys) help() []key.Binding {
	return []key.Binding{k.Up, k.PgUp, k.Home, k.End, k.Search, k.Next, k.Clear}
}

// timeline is the scroll, search and follow state of a timeline pane. It
// follows the newest rows until a row is selected (↑, PgUp, Home, a search);
// then the view stays on that row while new ones come in below, until F.
type timeline struct {
	pinned bool // a row is selected and the view stays put
	cursor int  // the selected row's seq
	top    int  // seq of the first row drawn while pinned
	query  string
	input  gotoInput // the "/" line while it is being typed
	note   string    // "no older match", shown under the rows
}

const maxQueryRunes = 100

func newTimeline() timeline {
	in := newGotoInput()
	in.limit = maxQueryRunes
	return timeline{input: in}
}

// Editing says the search line has the keyboard.
func (t timeline) Editing() bool { return t.input.Active() }

// Claims says whether the pane wants msg before the root's replay keys:
// everything while the search line is open; Home and End only once a row
// is selected (in a replay they otherwise move the replay); n/N only while
// a search is set (otherwise they are the replay's next/previous finding);
// esc only when there is something to clear.
func (t timeline) Claims(msg tea.KeyPressMsg) bool {
	k := timelineKeys
	switch {
	case t.input.Active():
		return true
	case key.Matches(msg, k.Home, k.End):
		return t.pinned
	case key.Matches(msg, k.Next, k.Prev):
		return t.query != ""
	case key.Matches(msg, k.Clear):
		return t.pinned || t.query != ""
	}
	return key.Matches(msg, k.Up, k.Down, k.PgUp, k.PgDown, k.Search)
}

// Update handles a timeline key over rows, room rows being drawn at a time.
// ok is false for keys that are not the timeline's.
func (t timeline) Update(msg tea.KeyPressMsg, rows rowList, room int) (_ timeline, ok bool) {
	k := timelineKeys
	first, end := rows.span()
	room = max(room, 1)
	if t.input.Active() {
		var submit bool
		if t.input, submit = t.input.Update(msg); submit {
			t.input = t.input.Close()
			t.query = strings.TrimSpace(t.input.value)
			if t.query != "" {
				t = t.find(rows, -1, true)
			}
		}
		return t, true
	}
	t.note = ""
	if !t.pinned {
		t.cursor, t.top = end-1, max(first, end-room)
	}
	switch {
	case key.Matches(msg, k.Up): // from the newest row, selects it
		if t.pinned {
			t.cursor--
		}
		t.pinned = true
	case key.Matches(msg, k.Down):
		if t.pinned {
			t.cursor++
		}
	case key.Matches(msg, k.PgUp):
		t.pinned, t.cursor, t.top = true, t.cursor-room, t.top-room
	case key.Matches(msg, k.PgDown):
		t.pinned, t.cursor, t.top = true, t.cursor+room, t.top+room
	case key.Matches(msg, k.Home):
		t.pinned, t.cursor, t.top = true, first, first
	case key.Matches(msg, k.End):
		t.pinned = false
	case key.Matches(msg, k.Search):
		t.input = t.input.Open()
	case key.Matches(msg, k.Next):
		t = t.find(rows, -1, false)
	case key.Matches(msg, k.Prev):
		t = t.find(rows, +1, false)
	case key.Matches(msg, k.Clear):
		if t.query != "" {
			t.query = ""
		} else {
			t.pinned = false
		}
	default:
		return t, false
	}
	if t.pinned {
		t.cursor = clamp(t.cursor, first, max(end-1, first))
		t.top = visibleTop(t.top, t.cursor, first, end, room)
	}
	return t, true
}

// Paste adds pasted text to the search line while it is open.
func (t timeline) Paste(text string) timeline {
	if t.input.Active() {
		t.input = t.input.Insert(text)
	}
	return t
}

// Scroll moves the view by n rows (the mouse wheel: negative is back).
func (t timeline) Scroll(n int, rows rowList, room int) timeline {
	first, end := rows.span()
	if end <= first {
		return t
	}
	room = max(room, 1)
	if !t.pinned {
		if n >= 0 {
			return t
		}
		t.pinned, t.cursor, t.top = true, end-1, max(first, end-room)
	}
	t.top = clamp(t.top+n, first, max(first, end-room))
	t.cursor = clamp(t.cursor, t.top, t.top+room-1)
	if n > 0 && t.top >= end-room {
		t.pinned = false // scrolled back down to the newest: follow again
	}
	return t
}

// Select selects the row seq and puts it mid-view, room rows being drawn
// (g from an opened finding: the rows around its moment, both sides).
func (t timeline) Select(seq int, rows rowList, room int) timeline {
	first, end := rows.span()
	if end <= first {
		return t
	}
	room = max(room, 1)
	t.pinned, t.cursor, t.note = true, clamp(seq, first, end-1), ""
	t.top = visibleTop(t.cursor-room/2, t.cursor, first, end, room)
	return t
}

// seqAt is the newest seq in [first, end) whose row is not later than t
// (at gives a row's time), or first when every row is later: the row a
// timeline selects to show the moment t.
func seqAt(first, end int, at func(seq int) time.Time, t time.Time) int {
	for seq := end - 1; seq >= first; seq-- {
		if !at(seq).After(t) {
			return seq
		}
	}
	return first
}

// visibleTop moves top the least so that cursor is among the room rows
// from it, and the window does not run past the newest row.
func visibleTop(top, cursor, first, end, room int) int {
	if cursor < top {
		top = cursor
	}
	if cursor >= top+room {
		top = cursor - room + 1
	}
	return clamp(top, first, max(first, end-room))
}

// find selects the nearest row that matches the query, older (dir -1) or
// newer (+1) than the selected one, or than the newest row when nothing is
// selected; from includes the starting row itself.
func (t timeline) find(rows rowList, dir int, from bool) timeline {
	first, end := rows.span()
	start := t.cursor
	if !t.pinned {
		start, from = end-1, true
	}
	if !from {
		start += dir
	}
	for s := start; s >= first && s < end; s += dir {
		if matchAt(rows.text(s), t.query) >= 0 {
			t.pinned, t.cursor = true, s
			return t
		}
	}
	switch {
	case end <= first:
	case dir < 0:
		t.note = fmt.Sprintf("no older match for %q", t.query)
	default:
		t.note = fmt.Sprintf("no newer match for %q", t.query)
	}
	return t
}

// window is the seqs drawn in room rows: the newest, or those around the
// selected row.
func (t timeline) window(rows rowList, room int) (from, to int) {
	first, end := rows.span()
	if room <= 0 || end <= first {
		return end, end
	}
	if !t.pinned {
		return max(first, end-room), end
	}
	top := visibleTop(t.top, clamp(t.cursor, first, end-1), first, end, room)
	return top, min(end, top+room)
}

// footer is the line under the rows, "" when the view follows with no
// search: the search being typed, or where the view is and how to leave.
func (t timeline) footer(rows rowList, env paneEnv, w int) string {
	return t.footerLed(rows, env, w)
}

// footerLed is footer led, while a row is selected, by what the pane can
// do with that row: the first of leads (already styled, longest first)
// that leaves the rest of the line room, else the last.
func (t timeline) footerLed(rows rowList, env paneEnv, w int, leads ...string) string {
	st := env.st
	if t.input.Active() {
		return clip(st.Prompt.Render("/")+st.Text.Render(event.Sanitize(t.input.value))+st.BarCursor.Render("▏")+
			st.Muted.Render("  enter search · esc cancel"), w)
	}
	var parts []string
	if t.note != "" {
		parts = append(parts, st.Sev(event.Warn).Render(event.Sanitize(t.note)))
	}
	if t.query != "" {
		first, end := rows.span()
		n := 0
		for s := first; s < end; s++ {
			if matchAt(rows.text(s), t.query) >= 0 {
				n++
			}
		}
		parts = append(parts, st.Match.Render("/"+event.Sanitize(t.query))+st.Muted.Render(fmt.Sprintf(" %d match(es) · n/N", n)))
	}
	if t.pinned {
		_, end := rows.span()
		parts = append(parts, st.Muted.Render(fmt.Sprintf("%d newer below · F follow", max(end-1-t.cursor, 0))))
	}
	if len(parts) == 0 {
		return ""
	}
	sep := st.Muted.Render(" · ")
	line := strings.Join(parts, sep)
	if !t.pinned {
		return clip(line, w)
	}
	for i, lead := range leads {
		if lead == "" {
			continue
		}
		if led := lead + sep + line; i == len(leads)-1 || ansi.StringWidth(led) <= w {
			return clip(led, w)
		}
	}
	return clip(line, w)
}

// render styles one drawn row: the selected row reversed, search matches
// marked, the rest in base. line is plain text, already clipped.
func (t timeline) render(seq int, line string, base lipgloss.Style, env paneEnv) string {
	st := env.st
	if t.pinned && seq == t.cursor {
		base = st.Selected
	}
	return highlight(line, t.query, base, st.Match)
}

// highlight renders s in base with each match of query in hl.
func highlight(s, query string, base, hl lipgloss.Style) string {
	if query == "" {
		return base.Render(s)
	}
	var b strings.Builder
	for {
		i := matchAt(s, query)
		if i < 0 {
			break
		}
		b.WriteString(base.Render(s[:i]))
		b.WriteString(hl.Render(s[i : i+len(query)]))
		s = s[i+len(query):]
	}
	b.WriteString(base.Render(s))
	return b.String()
}

// matchAt is the byte offset of the first match of query in s, -1 if
// none. The match is smart-case (as less -i, vim's smartcase): a query
// without capitals ignores case.
func matchAt(s, query string) int {
	if query == "" {
		return -1
	}
	if strings.IndexFunc(query, unicode.IsUpper) >= 0 {
		return strings.Index(s, query)
	}
	return indexFold(s, query)
}

// indexFold is strings.Index ignoring ASCII case, so offsets stay those of
// s (strings.ToLower can change a string's length).
func indexFold(s, q string) int {
	for i := 0; i+len(q) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(q)], q) {
			return i
		}
	}
	return -1
}

// plainStyle draws text as it is, for rows that have no style of their own.
var plainStyle = lipgloss.NewStyle()
