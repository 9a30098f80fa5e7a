package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// The smallest terminal the layout is drawn for.
const (
	minWidth  = 40
	minHeight = 10
)

// stripHeight gives the findings strip more lines on taller terminals.
func stripHeight(h int) int { return clamp(h/8, 1, 5) }

// resize hands each component its share of the screen.
func (m Model) resize(w, h int) Model {
	m.w, m.h = w, h
	gridH := h - stripHeight(h) - 1
	if m.replay != nil {
		gridH-- // timeline
	}
	m.strip = m.strip.SetSize(w, stripHeight(h))
	m.panes = m.panes.SetSize(w, max(gridH, 0))
	m.insp = m.insp.SetHeight(max(gridH, 0))
	m.status = m.status.SetWidth(w)
	m.help.SetWidth(w - 4)
	return m
}

func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	// Clicks and the wheel (cell motion reports no bare movement); the
	// terminal still selects text with Shift held.
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "stakeout"
	return v
}

// render draws the whole screen: strip, grid (or help), timeline, status.
func (m Model) render() string {
	if m.w == 0 || m.h == 0 {
		return ""
	}
	if m.w < minWidth || m.h < minHeight {
		msg := fmt.Sprintf("terminal too small: need at least %d×%d, have %d×%d", minWidth, minHeight, m.w, m.h)
		return strings.TrimRight(block(ansi.Wrap(msg, m.w, ""), m.w, m.h), "\n")
	}
	parts := []string{m.strip.View()}
	switch {
	case m.insp.Active():
		parts = append(parts, m.insp.View(m.w, m.panes.h))
	case m.showHelp:
		parts = append(parts, m.helpView())
	case m.detail != nil:
		parts = append(parts, m.detail.View(m.w, m.panes.h, m.panes.Label(m.panes.IndexOn(m.detail.host, m.detail.probe))))
	default:
		parts = append(parts, m.panes.View())
	}
	if m.replay != nil && m.replay.Loading() {
		parts = append(parts, m.replay.LoadingLine(m.w))
	} else if m.replay != nil {
		parts = append(parts, m.replay.Timeline(m.w))
	}
	parts = append(parts, m.statusView())
	return strings.Join(parts, "\n")
}

func (m Model) statusView() string {
	if m.note.Active() {
		return m.note.View(m.env, m.w)
	}
	if m.replay != nil && m.replay.Editing() {
		return m.replay.input.View(m.env, m.w)
	}
	x := statusExtra{
		hint:  m.help.ShortHelpView(m.ShortHelp()),
		short: m.help.ShortHelpView([]key.Binding{m.keys.Help}),
	}
	if n := m.panes.Len(); n > 0 {
		x.focus = m.env.st.Muted.Render(fmt.Sprintf("pane %d/%d", m.panes.Focused()+1, n))
		if m.panes.Zoomed() {
			x.focus += m.env.st.Accent.Render(" zoomed")
		}
	}
	if m.strip.Focused() {
		i, n := m.strip.SelectedPos()
		x.focus = m.env.st.Accent.Render(fmt.Sprintf("finding %d/%d", i, n))
	}
	if m.replay != nil {
		x.mode, x.err = m.replay.Mode(), m.replay.note
	} else if label := m.freeze.Label(); label != "" {
		x.mode = m.env.st.Frozen.Render(label)
	}
	if m.noteErr != "" {
		x.err = m.noteErr
	}
	if m.insp.Active() { // q and esc go back there; its title has its keys
		x.hint = m.help.ShortHelpView([]key.Binding{m.insp.keys.Back})
		x.short = x.hint
	}
	if m.traceErr != "" {
		x.err = m.traceErr
	}
	if m.procErr != "" {
		x.err = m.procErr
	}
	return m.status.View(x, m.replay != nil, m.now())
}

// helpView fills the grid area with every key, generated from the key maps
// and grouped (see helpSections): each group is a column under its title,
// columns wrap to a new band when the width runs out, and the legend of
// marks follows. It scrolls when it is taller than the room.
func (m Model) helpView() string {
	lines := strings.Split(m.helpBody(), "\n")
	room := max(m.panes.h-2, 1)
	top := clamp(m.helpTop, 0, max(len(lines)-room, 0))
	title := "keys · ? or esc to close"
	if len(lines) > room {
		title += fmt.Sprintf(" · ↑/↓ pgup/pgdn: lines %d-%d of %d", top+1, min(top+room, len(lines)), len(lines))
	}
	return box(title, strings.Join(lines[top:], "\n"), m.w, m.panes.h, true, m.env.st)
}

// helpBody is the whole help screen's text.
func (m Model) helpBody() string {
	inner := m.w - 2
	var bands, band []string
	used := 0
	for _, sec := range m.helpSections() {
		col := m.env.st.TableHeader.Render(sec.title) + "\n" + m.help.FullHelpView([][]key.Binding{sec.keys})
		cw := lipgloss.Width(col) + 3
		if used > 0 && used+cw > inner {
			bands = append(bands, lipgloss.JoinHorizontal(lipgloss.Top, band...))
			band, used = nil, 0
		}
		band = append(band, col+"   ")
		used += cw
	}
	if len(band) > 0 {
		bands = append(bands, lipgloss.JoinHorizontal(lipgloss.Top, band...))
	}
	return strings.Join(bands, "\n\n") + "\n\n" + strings.Join(m.legend(inner), "\n")
}
