package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const (
	kmsgKeepLines   = 200 // recent log lines kept
	kmsgKeepNotable = 64  // recent kernel events kept
)

type kmsgRow struct {
	at    time.Time
	prio  int
	label string // "SEGV", "OOM", … for a kernel event; "" for a plain line
	text  string // sanitized
}

// kmsgPane lists the kernel events the log named (segfaults, OOM kills,
// hung tasks, I/O errors, conntrack drops) above the latest log lines. It
// classifies lines with the parser the detectors use, since a pane sees
// only its probe's events, not findings.
type kmsgPane struct {
	paneBase
	tl      timeline // over the log lines
	lines   []kmsgRow
	notable []kmsgRow
	n, lost int
}

func init() { registerPane("kmsg", newKmsgPane) }

// kmsgInspect is Enter on a selected log line that names a process.
var kmsgInspect = inspectRowKey("kmsg: inspect the process the selected line names")

func newKmsgPane(env paneEnv) Pane {
	return kmsgPane{paneBase: newTimelineBase(env, kmsgInspect), tl: newTimeline()}
}

// Reset keeps the search.
func (p kmsgPane) Reset() Pane {
	f := newKmsgPane(p.env).(kmsgPane)
	f.tl.query = p.tl.query
	return f
}

func (p kmsgPane) Update(msg tea.KeyPressMsg) (Pane, tea.Cmd) {
	if r := p.selectedProcess(); r.pid > 0 && !p.tl.Editing() && key.Matches(msg, kmsgInspect) {
		return p, inspectAsk([]procRef{r})
	}
	p.tl, _ = p.tl.Update(msg, p, p.room())
	return p, nil
}

// Claims takes the timeline's keys, and Enter (which zooms the pane
// otherwise) while the selected line names a process.
func (p kmsgPane) Claims(msg tea.KeyPressMsg) bool {
	if key.Matches(msg, kmsgInspect) && p.selectedProcess().pid > 0 {
		return true
	}
	return p.tl.Claims(msg)
}
func (p kmsgPane) Editing() bool       { return p.tl.Editing() }
func (p kmsgPane) Paste(s string) Pane { p.tl = p.tl.Paste(s); return p }
func (p kmsgPane) Scroll(n int) Pane   { p.tl = p.tl.Scroll(n, p, p.room()); return p }

// selectedProcess is the process the selected log line names, pid 0 when
// no line is selected or it names none.
func (p kmsgPane) selectedProcess() procRef {
	first, end := p.span()
	if !p.tl.pinned || p.tl.cursor < first || p.tl.cursor >= end {
		return procRef{}
	}
	return p.lineProcess(p.lines[p.tl.cursor-first])
}

// ShowMoment selects the last log line at or before t: g from an opened
// finding.
func (p kmsgPane) ShowMoment(t time.Time) Pane {
	first, end := p.span()
	seq := seqAt(first, end, func(seq int) time.Time { return p.lines[seq-first].at }, t)
	p.tl = p.tl.Select(seq, p, p.room())
	return p
}

// selectionLeads lead the footer while the selected line names a process
// (see timeline.footerLed).
func (p kmsgPane) selectionLeads() []string {
	r := p.selectedProcess()
	if r.pid <= 0 {
		return nil
	}
	who := fmt.Sprintf("▶ %d %s", r.pid, r.comm)
	return []string{p.env.st.Accent.Render(who + " · enter inspect"), p.env.st.Accent.Render(who)}
}

// Log lines are numbered by p.n, which counts every line applied.
func (p kmsgPane) span() (int, int) { return p.n - len(p.lines), p.n }
func (p kmsgPane) text(seq int) string {
	r := p.lines[seq-(p.n-len(p.lines))]
	return r.at.In(p.env.loc).Format("15:04:05") + " " + fit(levelName(r.prio), 5) + r.text
}

func (p kmsgPane) Apply(ev event.Event) Pane {
	k, ok := event.As[schema.Kmsg](ev)
	if !ok {
		return p
	}
	p.n++
	p.lost = int(event.AddCount(uint64(p.lost), k.Lost))
	row := kmsgRow{at: ev.Time, prio: k.Priority, text: event.Sanitize(k.Text)}
	p.lines = appendCapped(p.lines, row, kmsgKeepLines)
	if label, text := kernelEventText(k.Text); label != "" {
		p.notable = appendCapped(p.notable, kmsgRow{at: ev.Time, prio: k.Priority, label: label, text: text}, kmsgKeepNotable)
	}
	return p
}

// appendCapped appends v and keeps the last n. Past n it drops the front
// by re-slicing, and copies the last n into a fresh array only when append
// would have to grow one anyway: a full list costs one copy of n per n
// appends, not a copy of all n per append (the signals pane made one of
// 256 rows, 50 KB, for every signal on the host). Appends only write past
// the end of every slice handed back before, so what an earlier slice holds
// never changes.
func appendCapped[T any](s []T, v T, n int) []T {
	if len(s) >= n && len(s) == cap(s) {
		fresh := make([]T, n-1, 2*n)
		copy(fresh, s[len(s)-(n-1):])
		s = fresh
	}
	s = append(s, v)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// kernelEventText labels a line the kernel-log parser recognises and says
// it in a few words; "" when it names nothing.
func kernelEventText(text string) (label, what string) {
	l, ok := schema.ParseKernelLine(text)
	if !ok {
		return "", ""
	}
	san := event.Sanitize
	switch {
	case l.Segfault != nil:
		s := l.Segfault
		what = fmt.Sprintf("%s[%d] at %s", san(s.Comm), s.PID, s.Addr)
		if s.Object != "" {
			what += " in " + san(s.Object)
		}
		return "SEGV", what
	case l.OOMKill != nil:
		return "OOM", fmt.Sprintf("killed %s[%d], %s resident", san(l.OOMKill.Comm), l.OOMKill.PID, fmtBytes(int64(l.OOMKill.RSSKB)*1024))
	case l.HungTask != nil:
		return "HUNG", fmt.Sprintf("%s[%d] blocked > %ds", san(l.HungTask.Comm), l.HungTask.PID, l.HungTask.Seconds)
	case l.IOError != nil:
		what = "dev " + san(l.IOError.Device)
		if l.IOError.Sector != nil {
			what += fmt.Sprintf(" sector %d", *l.IOError.Sector)
		}
		if l.IOError.Op != "" {
			what += " " + l.IOError.Op
		}
		return "I/O", what
	case l.ConntrackFull:
		return "CT", "conntrack table full, dropping packets"
	}
	return "", ""
}

// notableRows is how many kernel events are listed above the log: a short
// pane is all kernel events; a tall one gives half to the log.
func (p kmsgPane) notableRows() int {
	if len(p.notable) == 0 {
		return 0
	}
	if p.h > 5 {
		return min(len(p.notable), max(1, p.h/2-1))
	}
	return min(len(p.notable), max(p.h-1, 1))
}

// room is how many log lines the pane draws at its size.
func (p kmsgPane) room() int {
	n := p.h - 1 // the "log:" line
	if k := p.notableRows(); k > 0 {
		n -= k + 1
	}
	if p.tl.footer(p, p.env, p.w) != "" {
		n--
	}
	return max(n, 0)
}

func (p kmsgPane) View() string {
	st := p.env.st
	if p.n == 0 {
		return st.Muted.Render("no kernel log lines yet")
	}
	var out []string
	if len(p.notable) > 0 {
		room := p.notableRows()
		out = append(out, st.TableHeader.Render(clip(fmt.Sprintf("kernel events (%d)", len(p.notable)), p.w)))
		for _, r := range p.notable[len(p.notable)-room:] {
			sev := event.Warn
			if r.label == "OOM" || r.label == "I/O" || r.label == "CT" {
				sev = event.Critical
			}
			head := r.at.In(p.env.loc).Format("15:04:05") + " " + fit(r.label, 5)
			out = append(out, st.Sev(sev).Render(head)+clip(r.text, p.w-len(head)))
		}
	}
	head := fmt.Sprintf("log: %d lines", p.n)
	if p.lost > 0 {
		head += fmt.Sprintf(", %d overwritten before read", p.lost)
	}
	out = append(out, st.Muted.Render(clip(head, p.w)))
	if p.h-len(out) <= 0 {
		return strings.Join(out[:p.h], "\n")
	}
	first := p.n - len(p.lines)
	from, to := p.tl.window(p, p.room())
	for seq := from; seq < to; seq++ {
		r := p.lines[seq-first]
		stamp := r.at.In(p.env.loc).Format("15:04:05") + " "
		lvl := fit(levelName(r.prio), 5)
		style := st.Muted
		switch {
		case r.prio <= 2:
			style = st.Sev(event.Critical)
		case r.prio == 3:
			style = st.Sev(event.Warn)
		}
		out = append(out, p.tl.render(seq, stamp, st.Muted, p.env)+p.tl.render(seq, lvl, style, p.env)+
			p.tl.render(seq, clip(r.text, p.w-len(stamp)-5), plainStyle, p.env))
	}
	if f := p.tl.footerLed(p, p.env, p.w, p.selectionLeads()...); f != "" {
		out = append(out, f)
	}
	return strings.Join(out, "\n")
}

var kmsgLevelShort = [...]string{"emerg", "alert", "crit", "err", "warn", "note", "info", "debug"}

func levelName(prio int) string { return kmsgLevelShort[prio&7] }
