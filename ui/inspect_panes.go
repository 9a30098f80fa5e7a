package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// The processes each pane shows, for the inspector's picker (i), and
// Enter on a pane's selected row, which opens the inspector on the
// processes that row names.

// inspectAskMsg is a pane asking the root to open the inspector on the
// processes its selected row names (Enter): only the root holds the
// inspector and Options.Inspect.
type inspectAskMsg struct{ refs []procRef }

// inspectAsk is the command a pane returns to ask for it.
func inspectAsk(refs []procRef) tea.Cmd {
	return func() tea.Msg { return inspectAskMsg{refs: refs} }
}

// inspectRowKey is Enter on a selected row that names a process; a pane
// claims it only then, so Enter zooms the pane otherwise.
func inspectRowKey(help string) key.Binding {
	return key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", help))
}

// Processes: the targets and senders of the timeline's rows, newest first.
func (p signalsPane) Processes() []procRef {
	var out []procRef
	for i := len(p.rows) - 1; i >= 0; i-- {
		for _, r := range []procRef{p.rows[i].target, p.rows[i].sender} {
			if r.pid > 0 {
				r.why += " at " + p.rows[i].at.In(p.env.loc).Format("15:04:05.000")
				out = append(out, r)
			}
		}
	}
	return out
}

// Processes: each filesystem's writers, then the holders of deleted files.
func (p diskFillPane) Processes() []procRef {
	var out, held []procRef
	for _, fs := range p.last {
		w, h := fsProcesses(fs)
		out, held = append(out, w...), append(held, h...)
	}
	return append(out, held...)
}

// fsProcesses are a filesystem's writers and the holders of its deleted
// files.
func fsProcesses(fs schema.Filesystem) (writers, held []procRef) {
	mount := event.Sanitize(fs.Mount)
	for _, w := range fs.Writers {
		writers = append(writers, procRef{pid: w.PID, comm: event.Sanitize(w.Comm),
			why: fmt.Sprintf("writes %s at %s/s", mount, fmtBytes(event.SatInt64(w.WriteBytesPerS)))})
	}
	for _, d := range fs.DeletedOpen {
		held = append(held, procRef{pid: d.PID, comm: event.Sanitize(d.Comm),
			why: fmt.Sprintf("holds deleted %s (%s) on %s", event.Sanitize(d.Path), fmtBytes(d.SizeBytes), mount)})
	}
	return writers, held
}

// Processes: the processes the kernel's lines name (a segfault, an OOM
// kill, a hung task), newest first.
func (p kmsgPane) Processes() []procRef {
	var out []procRef
	for i := len(p.lines) - 1; i >= 0; i-- {
		if r := p.lineProcess(p.lines[i]); r.pid > 0 {
			out = append(out, r)
		}
	}
	return out
}

// lineProcess is the process a kernel log line names, pid 0 for none.
func (p kmsgPane) lineProcess(row kmsgRow) procRef {
	l, ok := schema.ParseKernelLine(row.text)
	if !ok {
		return procRef{}
	}
	at := " at " + row.at.In(p.env.loc).Format("15:04:05")
	switch {
	case l.Segfault != nil:
		return procRef{pid: l.Segfault.PID, comm: event.Sanitize(l.Segfault.Comm), why: "segfaulted" + at}
	case l.OOMKill != nil:
		return procRef{pid: l.OOMKill.PID, comm: event.Sanitize(l.OOMKill.Comm), why: "OOM-killed" + at}
	case l.HungTask != nil:
		return procRef{pid: l.HungTask.PID, comm: event.Sanitize(l.HungTask.Comm),
			why: fmt.Sprintf("blocked in the kernel for %d s%s", l.HungTask.Seconds, at)}
	}
	return procRef{}
}

// Processes: the watched processes' core limits, then those with none.
func (p coredumpPane) Processes() []procRef {
	if p.last == nil {
		return nil
	}
	var out []procRef
	lim := func(l schema.CoreLimit) string {
		switch {
		case l.Soft < 0:
			return "unlimited"
		case l.Soft == 0:
			return "0"
		}
		return fmtBytes(l.Soft)
	}
	for _, l := range p.last.Limits {
		out = append(out, procRef{pid: l.PID, comm: event.Sanitize(l.Comm), why: "watched, core limit " + lim(l)})
	}
	for _, l := range p.last.NoCore {
		out = append(out, procRef{pid: l.PID, comm: event.Sanitize(l.Comm), why: "core limit " + lim(l) + ": a crash leaves no core"})
	}
	return out
}

// Processes lists the processes the panes show, the focused pane's first,
// each process (a pid on a host) once, at most maxPickRefs.
func (ps paneSet) Processes() []procRef {
	if len(ps.slots) == 0 {
		return nil
	}
	order := []int{ps.focus}
	for i := range ps.slots {
		if i != ps.focus {
			order = append(order, i)
		}
	}
	seen := map[procKey]bool{}
	var out []procRef
	for _, i := range order {
		pl, ok := ps.slots[i].pane.(processLister)
		if !ok {
			continue
		}
		for _, r := range pl.Processes() {
			r.host = ps.slots[i].host
			if pk := (procKey{r.host, r.pid}); r.pid > 0 && !seen[pk] && len(out) < maxPickRefs {
				seen[pk] = true
				out = append(out, r)
			}
		}
	}
	return out
}
