package ui

import (
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
)

// The signals pane's selection: ↑/↓ pick a row, and so the process it is
// about; a attaches ptrace to that process (and its children) for what
// only delivery shows, d detaches it; esc lets the row go. g in an opened
// finding selects the row at the finding's moment (ShowMoment).

type sigKeys struct {
	Up, Down, Attach, Detach, Clear key.Binding
}

// newSigKeys: trace turns a and d on (live; a replay has nothing to attach).
func newSigKeys(trace bool) sigKeys {
	k := sigKeys{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "select an earlier row")),
		Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "select a later row")),
		Attach: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "attach ptrace to the selected process and its children")),
		Detach: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "detach ptrace from it")),
		Clear:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear the selection")),
	}
	k.Attach.SetEnabled(trace)
	k.Detach.SetEnabled(trace)
	return k
}

func (p signalsPane) ShortHelp() []key.Binding { return []key.Binding{p.keys.Up, p.keys.Attach} }
func (p signalsPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.keys.Up, p.keys.Down, p.keys.Attach, p.keys.Detach, p.keys.Clear}}
}

// Captures takes a (which acknowledges findings elsewhere), d and esc
// while a row is selected.
func (p signalsPane) Captures(msg tea.KeyPressMsg) bool {
	return p.selected() >= 0 && key.Matches(msg, p.keys.Attach, p.keys.Detach, p.keys.Clear)
}

func (p signalsPane) Update(msg tea.KeyPressMsg) (Pane, tea.Cmd) {
	sel := p.selected()
	switch {
	case key.Matches(msg, p.keys.Up):
		p.sel = p.pick(sel, -1)
	case key.Matches(msg, p.keys.Down):
		p.sel = p.pick(sel, 1)
	case key.Matches(msg, p.keys.Clear):
		p.sel = 0
	case sel >= 0 && key.Matches(msg, p.keys.Attach):
		return p, traceAsk(p.rows[sel].pid, true)
	case sel >= 0 && key.Matches(msg, p.keys.Detach):
		return p, traceAsk(p.rows[sel].pid, false)
	}
	return p, nil
}

// selected is the index of the selected row, -1 when none is (or it has
// scrolled out of the pane's memory).
func (p signalsPane) selected() int {
	if p.sel == 0 {
		return -1
	}
	for i := len(p.rows) - 1; i >= 0; i-- {
		if p.rows[i].seq == p.sel {
			return i
		}
	}
	return -1
}

// pick is the seq of the next row from index i in direction d that names
// a process; from no selection, the newest such row. It stays put at
// either end.
func (p signalsPane) pick(i, d int) int {
	if i < 0 {
		i, d = len(p.rows), -1
	}
	for j := i + d; j >= 0 && j < len(p.rows); j += d {
		if p.rows[j].pid > 0 {
			return p.rows[j].seq
		}
	}
	if i < len(p.rows) {
		return p.rows[i].seq
	}
	return 0
}

// ShowMoment selects the last row at or before t that names a process.
func (p signalsPane) ShowMoment(t time.Time) Pane {
	p.sel = 0
	for i := len(p.rows) - 1; i >= 0; i-- {
		if r := p.rows[i]; r.pid > 0 && !r.at.After(t) {
			p.sel = r.seq
			return p
		}
	}
	p.sel = p.pick(-1, 0)
	return p
}

// selectionLine says which process is selected and what a and d do.
func (p signalsPane) selectionLine(r sigRow) string {
	st := p.env.st
	comm := ""
	if c := p.procs[r.pid]; c != nil && c.comm != "" {
		comm = " " + event.Sanitize(c.comm)
	}
	l := fmt.Sprintf("▶ %d%s", r.pid, comm)
	if p.env.trace {
		l += " · a attach ptrace · d detach"
	}
	return st.Accent.Render(clip(l+" · esc", p.w))
}
