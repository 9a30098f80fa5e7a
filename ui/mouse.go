package ui

import tea "charm.land/bubbletea/v2"

// wheelRows is how many rows one notch of the wheel scrolls.
const wheelRows = 3

// mouse: a left click focuses the pane under it, the wheel scrolls the
// timeline under it. The grid starts under the findings strip.
func (m Model) mouse(ms tea.Mouse) Model {
	if m.showHelp || m.note.Active() {
		return m
	}
	x, y := ms.X, ms.Y-stripHeight(m.h)
	if y < 0 || y >= m.panes.h {
		return m
	}
	switch ms.Button {
	case tea.MouseLeft:
		m.panes = m.panes.Click(x, y)
	case tea.MouseWheelUp:
		m.panes = m.panes.Wheel(x, y, -wheelRows)
	case tea.MouseWheelDown:
		m.panes = m.panes.Wheel(x, y, wheelRows)
	}
	return m
}
