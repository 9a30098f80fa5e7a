package ui

import (
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
)

// The signals pane's selection is its timeline's (scroll.go): ↑/↓, PgUp,
// Home or a search select a row, and so the process it is about; a
// attaches ptrace to that process (and its children) for what only
// delivery shows, d detaches it; esc lets the row go (after clearing a
// search). g in an opened finding selects the row at the finding's moment
// (ShowMoment).

type sigKeys struct {
	Attach, Detach key.Binding
}

// newSigKeys: trace turns a and d on (live; a replay has nothing to attach).
func newSigKeys(trace bool) sigKeys {
	k := sigKeys{
		Attach: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "signals: attach ptrace to the selected row's process and its children")),
		Detach: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "signals: detach ptrace from it")),
	}
	k.Attach.SetEnabled(trace)
	k.Detach.SetEnabled(trace)
	return k
}

// Claims takes the timeline's keys, and a (which acknowledges findings
// elsewhere) and d while a row naming a process is selected.
func (p signalsPane) Claims(msg tea.KeyPressMsg) bool {
	if i := p.selected(); i >= 0 && p.rows[i].pid > 0 && key.Matches(msg, p.keys.Attach, p.keys.Detach) {
		return true
	}
	return p.tl.Claims(msg)
}

func (p signalsPane) Update(msg tea.KeyPressMsg) (Pane, tea.Cmd) {
	if i := p.selected(); i >= 0 && p.rows[i].pid > 0 && !p.tl.Editing() {
		switch {
		case key.Matches(msg, p.keys.Attach):
			return p, traceAsk(p.rows[i].pid, true)
		case key.Matches(msg, p.keys.Detach):
			return p, traceAsk(p.rows[i].pid, false)
		}
	}
	p.tl, _ = p.tl.Update(msg, p, p.room())
	return p, nil
}

// selected is the index in rows of the selected row, -1 when none is (or
// it has gone out of the pane's memory).
func (p signalsPane) selected() int {
	if !p.tl.pinned || p.tl.cursor < p.first || p.tl.cursor >= p.first+len(p.rows) {
		return -1
	}
	return p.tl.cursor - p.first
}

// ShowMoment selects the last row at or before t (the oldest kept when
// every row is later).
func (p signalsPane) ShowMoment(t time.Time) Pane {
	first, end := p.span()
	seq := seqAt(first, end, func(seq int) time.Time { return p.rows[seq-first].at }, t)
	p.tl = p.tl.Select(seq, p, p.room())
	return p
}

// selectionLeads lead the timeline's footer while a row is selected: the
// process a and d act on and what they do, or, when the line is too
// narrow for that, only the process.
func (p signalsPane) selectionLeads() []string {
	i := p.selected()
	if i < 0 || p.rows[i].pid <= 0 {
		return nil
	}
	r := p.rows[i]
	who := fmt.Sprintf("▶ %d", r.pid)
	if c := p.procs[r.pid]; c != nil && c.comm != "" {
		who += " " + event.Sanitize(c.comm)
	}
	acc := p.env.st.Accent
	if !p.env.trace {
		return []string{acc.Render(who)}
	}
	return []string{acc.Render(who + " · a/d attach/detach"), acc.Render(who)}
}
