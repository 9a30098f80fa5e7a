package ui

import tea "charm.land/bubbletea/v2"

// wheelRows is how many rows one notch of the wheel scrolls.
const wheelRows = 3

// mouse: a left click focuses the pane under it (taking the keys back
// from the findings strip), the wheel scrolls the timeline under it. The
// grid starts under the findings strip. Nothing happens while something
// else is drawn in the grid's place (help, the inspector, an opened
// finding) or a note is being typed.
func (m Model) mouse(ms tea.Mouse) Model {
	if m.showHelp || m.note.Active() || m.insp.Active() || m.detail != nil {
		return m
	}
	x, y := ms.X, ms.Y-stripHeight(m.h)
	if y < 0 || y >= m.panes.h {
		return m
	}
	switch ms.Button {
	case tea.MouseLeft:
		m = m.focusStrip(false)
		m.panes = m.panes.Click(x, y)
	case tea.MouseWheelUp:
		m.panes = m.panes.Wheel(x, y, -wheelRows)
	case tea.MouseWheelDown:
		m.panes = m.panes.Wheel(x, y, wheelRows)
	}
	return m
}
