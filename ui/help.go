package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// helpSection is one titled group of keys on the help screen.
type helpSection struct {
	title string
	keys  []key.Binding
}

// helpSections groups every key in force: moving between panes, the keys
// that work everywhere, the replay's, the findings strip's, the
// timelines' (once, naming the panes that have them), then each pane's own
// under its number and probe.
func (m Model) helpSections() []helpSection {
	flat := func(gs [][]key.Binding) []key.Binding {
		var out []key.Binding
		for _, g := range gs {
			out = append(out, g...)
		}
		return out
	}
	everywhere := append(flat(m.keys.FullHelp()), m.insp.keys.Open, mouseHelp)
	out := []helpSection{{"panes", flat(m.panes.keys.FullHelp())}, {"everywhere", everywhere}}
	if m.replay != nil {
		g := m.replay.keys.FullHelp()
		out = append(out, helpSection{"replay", g[0]}, helpSection{"replay: moving", flat(g[1:])})
	}
	out = append(out, m.stripHelp())
	var timelines []string
	var own []helpSection
	seen := map[string]bool{} // a probe's panes on several hosts have the same keys
	for i, s := range m.panes.slots {
		b, ok := s.pane.(interface{ base() paneBase })
		if !ok || seen[s.probe] {
			continue
		}
		seen[s.probe] = true
		if b.base().timeline {
			timelines = append(timelines, s.probe)
		}
		title := fmt.Sprintf("%d %s", i+1, s.probe)
		if m.panes.Named() {
			title = s.probe + " (every host)"
		}
		if keys := unprefixed(b.base().keys, s.probe); len(keys) > 0 {
			own = append(own, helpSection{title, keys})
		}
	}
	if len(timelines) > 0 {
		out = append(out, helpSection{"timelines: " + strings.Join(timelines, ", "), timelineKeys.help()})
	}
	return append(out, own...)
}

// stripHelp is the findings strip's keys, and g, which an opened finding
// adds (with its scroll keys while one is open).
func (m Model) stripHelp() helpSection {
	fk := newFindingKeys()
	if m.detail != nil {
		fk = m.detail.keys
	}
	k := m.stripKeys
	keys := []key.Binding{k.Focus, k.Up, k.Open, fk.Jump, k.Leave}
	if m.detail != nil {
		keys = append(keys, fk.Up, fk.PageUp, fk.PageDown)
	}
	return helpSection{"findings strip", keys}
}

// mouseHelp is listed with the keys; no key press matches it.
var mouseHelp = key.NewBinding(key.WithKeys("mouse"), key.WithHelp("mouse", "click focuses, wheel scrolls"))

// unprefixed drops the "probe: " the pane's help text starts with, which
// the section's title already says. Keys turned off (a and d in a
// replay) are left out, so a pane with none on gets no section.
func unprefixed(keys []key.Binding, probe string) []key.Binding {
	var out []key.Binding
	for _, k := range keys {
		if !k.Enabled() {
			continue
		}
		h := k.Help()
		out = append(out, key.NewBinding(key.WithKeys(k.Keys()...), key.WithHelp(h.Key, strings.TrimPrefix(h.Desc, probe+": "))))
	}
	return out
}

// rootMarks are the marks drawn outside the panes, and the styles every
// timeline shares.
var rootMarks = []paneMark{
	{"▌CRIT ▌WARN ▌INFO", "findings strip: a finding's severity (criticals stay pinned on top until a)"},
	{"▌NOTE", "findings strip: a note (m)"},
	{"REC ●", "status line: recording; REC off, paused or stopped say why"},
	{"reversed row", "a timeline's selected row: the view stays on it (F follows again)"},
	{"underlined", "a search match (/)"},
	{"▁▂▃▄▅▆▇█", "history, oldest left, newest right"},
	{"…", "cut to fit: zoom the pane (enter) or widen the terminal"},
}

var replayMarks = []paneMark{{"● ▲ ◆", "replay timeline: the position, a finding raised or changing severity, a note"}}

// legend explains every mark in force, w cells wide.
func (m Model) legend(w int) []string {
	st := m.env.st
	marks := append([]paneMark(nil), rootMarks...)
	if m.replay != nil {
		marks = append(marks, replayMarks...)
	}
	seen := map[string]bool{}
	for _, s := range m.panes.slots {
		if mp, ok := s.pane.(markedPane); ok && !seen[s.probe] {
			seen[s.probe] = true
			marks = append(marks, mp.Marks()...)
		}
	}
	mw := 0
	for _, mk := range marks {
		mw = max(mw, ansi.StringWidth(mk.mark))
	}
	out := []string{st.TableHeader.Render("marks")}
	for _, mk := range marks {
		for i, l := range wrap(mk.means, max(w-mw-2, 10), 3) {
			glyph := strings.Repeat(" ", mw)
			if i == 0 {
				glyph = fit(mk.mark, mw)
			}
			out = append(out, clip(st.Accent.Render(glyph)+"  "+st.Text.Render(l), w))
		}
	}
	return out
}

// scrollsHelp says msg scrolls the help screen.
func (m Model) scrollsHelp(msg tea.KeyPressMsg) bool {
	k := timelineKeys
	return key.Matches(msg, k.Up, k.Down, k.PgUp, k.PgDown, k.Home)
}

func (m Model) scrollHelp(msg tea.KeyPressMsg) Model {
	k, page := timelineKeys, max(m.panes.h-3, 1)
	switch {
	case key.Matches(msg, k.Up):
		m.helpTop--
	case key.Matches(msg, k.Down):
		m.helpTop++
	case key.Matches(msg, k.PgUp):
		m.helpTop -= page
	case key.Matches(msg, k.PgDown):
		m.helpTop += page
	case key.Matches(msg, k.Home):
		m.helpTop = 0
	}
	lines := strings.Count(m.helpBody(), "\n") + 1
	m.helpTop = clamp(m.helpTop, 0, max(lines-(m.panes.h-2), 0))
	return m
}
