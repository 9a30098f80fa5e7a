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
// delivery shows, d detaches it; Enter opens the process inspector on the
// processes the row names; esc lets the row go (after clearing a search).
// g in an opened finding selects the row at the finding's moment
// (ShowMoment).

type sigKeys struct {
	Attach, Detach, Inspect key.Binding
}

// newSigKeys: trace turns a and d on (live; a replay has nothing to attach).
func newSigKeys(trace bool) sigKeys {
	k := sigKeys{
		Attach:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "signals: attach ptrace to the selected row's process and its children")),
		Detach:  key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "signals: detach ptrace from it")),
		Inspect: inspectRowKey("signals: inspect the selected row's processes"),
	}
	k.Attach.SetEnabled(trace)
	k.Detach.SetEnabled(trace)
	return k
}

// Claims takes the timeline's keys, and, while a row naming a process is
// selected, a (which acknowledges findings elsewhere), d and Enter (which
// zooms the pane otherwise).
func (p signalsPane) Claims(msg tea.KeyPressMsg) bool {
	if i := p.selected(); i >= 0 && p.rows[i].pid > 0 && key.Matches(msg, p.keys.Attach, p.keys.Detach, p.keys.Inspect) {
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
		case key.Matches(msg, p.keys.Inspect):
			return p, inspectAsk(p.rowProcesses(p.rows[i]))
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

// rowProcesses are the processes a row names: a signal's target and
// sender, an exec's process, else the process the row is about.
func (p signalsPane) rowProcesses(r sigRow) []procRef {
	at := " at " + r.at.In(p.env.loc).Format("15:04:05.000")
	var out []procRef
	for _, ref := range []procRef{r.target, r.sender} {
		if ref.pid > 0 {
			ref.why += at
			out = append(out, ref)
		}
	}
	if len(out) == 0 && r.pid > 0 {
		ref := procRef{pid: r.pid, why: r.what + at}
		if c := p.procs[r.pid]; c != nil {
			ref.comm = event.Sanitize(c.comm)
		}
		out = append(out, ref)
	}
	return out
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
// process a and d act on and what a, d and Enter do, or, when the line is
// too narrow for that, only the process.
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
	keys := " · enter inspect"
	if p.env.trace {
		keys = " · a/d attach/detach" + keys
	}
	acc := p.env.st.Accent
	return []string{acc.Render(who + keys), acc.Render(who)}
}
