package ui

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/themes"
)

// What the process inspector draws: the picker and a process's fields,
// threads and open files.

// View draws the inspector over the grid area, w×h.
func (in inspector) View(w, h int) string {
	st := in.env.st
	if in.mode == inspectPicking {
		return box("inspect a process · ↑/↓ enter · or type a pid · esc close", in.pickerBody(w-2, h-2), w, h, true, st)
	}
	title := fmt.Sprintf("process %d%s", in.pid, onHostText(in.host))
	if in.snap != nil {
		title += " (" + event.Sanitize(in.snap.Comm) + ")"
		when := "recorded " + in.at.In(in.env.loc).Format("15:04:05")
		if in.live {
			when = "read " + in.at.In(in.env.loc).Format("15:04:05")
		}
		title += " · " + when
	}
	switch {
	case in.keys.Save.Enabled() && in.live:
		title += " · s save · r reread · esc"
	case in.keys.Refresh.Enabled():
		title += " · r reread · esc"
	default:
		title += " · esc back"
	}
	lines := in.viewLines(w - 2)
	room := max(h-2, 1)
	scroll := clamp(in.scroll, 0, max(len(lines)-room, 0))
	body := lines[scroll:]
	if scroll > 0 || len(lines)-scroll > room {
		title += fmt.Sprintf(" · %d–%d/%d", scroll+1, min(scroll+room, len(lines)), len(lines))
	}
	return box(title, strings.Join(body, "\n"), w, h, true, st)
}

func (in inspector) pickerBody(w, h int) string {
	st := in.env.st
	var lines []string
	prompt := st.Prompt.Render("pid ›") + " " + st.Text.Render(in.typed) + st.BarCursor.Render("▏")
	if in.typed == "" {
		prompt += st.Muted.Render("  type a pid, or pick one below")
	}
	lines = append(lines, clip(prompt, w))
	if in.note != "" {
		lines = append(lines, st.Sev(event.Warn).Render(clip(in.note, w)))
	}
	if len(in.refs) == 0 {
		lines = append(lines, st.Muted.Render(clip("no pane shows a process yet", w)))
	}
	room := max(h-len(lines), 1)
	from := clamp(in.sel-room+1, 0, max(len(in.refs)-room, 0))
	for i := from; i < len(in.refs) && i < from+room; i++ {
		r := in.refs[i]
		why := r.why
		if r.host != "" {
			why = event.Sanitize(r.host) + ": " + why
		}
		l := fmt.Sprintf("%-7d %-16s %s", r.pid, clip(r.comm, 16), why)
		if i == in.sel && in.typed == "" {
			lines = append(lines, st.Accent.Render(clip("› "+l, w)))
		} else {
			lines = append(lines, clip("  "+l, w))
		}
	}
	return strings.Join(lines, "\n")
}

// viewLines is the whole inspection, line by line, at most w cells each:
// what is going on (a note, a read under way), then the process's fields,
// its threads and its fds.
func (in inspector) viewLines(w int) []string {
	v := &inspectLines{st: in.env.st, w: w}
	if in.note != "" {
		v.add(v.st.Sev(event.Warn).Render(in.note))
	}
	if in.loading {
		v.add(v.st.Muted.Render(fmt.Sprintf("reading /proc/%d …", in.pid)))
	}
	s := in.snap
	if s == nil {
		return v.out
	}
	in.fields(v, s)
	v.threads(s)
	v.fds(s)
	return v.out
}

// inspectLines gathers the inspection's lines, each clipped to w cells.
type inspectLines struct {
	st  *themes.Styles
	w   int
	out []string
}

func (v *inspectLines) add(l string) { v.out = append(v.out, clip(l, v.w)) }

// field is a labelled value; it wraps under itself, up to 4 lines.
func (v *inspectLines) field(name, val string) {
	for i, l := range wrap(val, max(v.w-10, 10), 4) {
		label := "         "
		if i == 0 {
			label = fmt.Sprintf("%-9s", name)
		}
		v.add(v.st.TableHeader.Render(label) + " " + l)
	}
}

// fields are the process's state, command line, parents, user, start
// (with its age when the snapshot was taken), cgroup, core limit, I/O and
// limits.
func (in inspector) fields(v *inspectLines, s *schema.ProcessSnapshot) {
	st, san := v.st, event.Sanitize
	state := schema.StateName(s.State)
	if s.Wchan != "" {
		state += " in " + san(s.Wchan)
	}
	if s.State == "D" || s.State == "Z" {
		state = st.Sev(event.Warn).Render(state)
	}
	v.field("state", state)
	args := make([]string, len(s.Cmdline))
	for i, a := range s.Cmdline {
		args[i] = san(a)
	}
	cmd := strings.Join(args, " ")
	if cmd == "" {
		cmd = st.Muted.Render("(none: a kernel thread, or a zombie)")
	}
	v.field("cmdline", cmd)
	chain := []string{fmt.Sprintf("%d %s", s.PID, san(s.Comm))}
	for _, p := range s.Parents {
		chain = append(chain, fmt.Sprintf("%d %s", p.PID, san(p.Comm)))
	}
	v.field("parents", strings.Join(chain, " ← "))
	v.field("user", fmt.Sprintf("uid %d, euid %d", s.UID, s.EUID))
	if !s.Started.IsZero() {
		started := s.Started.In(in.env.loc).Format("2006-01-02 15:04:05")
		if !in.at.IsZero() && in.at.After(s.Started) {
			started += " (" + fmtAge(in.at.Sub(s.Started)) + " before this)"
		}
		v.field("started", started)
	}
	if s.Cgroup != "" {
		v.field("cgroup", san(s.Cgroup))
	}
	if c := s.CoreLimit(); c != "" {
		val := c
		if l := s.Limits["core"]; l.Soft == 0 {
			val = st.Sev(event.Warn).Render(c + ": a crash leaves no core")
		}
		v.field("core", val)
	}
	if s.IO != nil {
		b := func(n uint64) string { return fmtBytes(event.SatInt64(float64(n))) }
		v.field("io", fmt.Sprintf("storage read %s, written %s · read() %s in %d calls · write() %s in %d calls",
			b(s.IO.ReadBytes), b(s.IO.WriteBytes), b(s.IO.RChar), s.IO.SyscR, b(s.IO.WChar), s.IO.SyscW))
	}
	if len(s.Limits) > 0 {
		v.field("limits", limitsText(s.Limits))
	}
}

// threads lists the threads listed, each with its kernel stack.
func (v *inspectLines) threads(s *schema.ProcessSnapshot) {
	st, san := v.st, event.Sanitize
	v.add("")
	head := fmt.Sprintf("THREADS %d", s.ThreadsTotal)
	if sum := s.ThreadSummary(); sum != "" {
		head += " · " + sum
	}
	if len(s.Threads) < s.ThreadsTotal {
		head += fmt.Sprintf(" · %d listed", len(s.Threads))
	}
	v.add(st.TableHeader.Render(head))
	for _, t := range s.Threads {
		l := fmt.Sprintf("%-8d %-2s %-24s %s", t.TID, t.State, san(t.Wchan), san(t.Comm))
		if t.State == "D" {
			l = st.Sev(event.Warn).Render(l)
		}
		v.add(l)
		for _, f := range t.Stack {
			v.add(st.Muted.Render("           " + san(f)))
		}
	}
}

// fds lists the fds listed, then whether caps left anything out and what
// could not be read.
func (v *inspectLines) fds(s *schema.ProcessSnapshot) {
	st, san := v.st, event.Sanitize
	v.add("")
	head := fmt.Sprintf("FDS %d", s.FDsTotal)
	if len(s.FDs) < s.FDsTotal {
		head += fmt.Sprintf(" · the lowest %d listed", len(s.FDs))
	}
	v.add(st.TableHeader.Render(head))
	for _, f := range s.FDs {
		v.add(fmt.Sprintf("%-6d %s", f.FD, san(f.Target)))
	}
	if s.Truncated {
		v.add(st.Muted.Render("(capped: the process has more than stakeout lists)"))
	}
	for _, e := range s.Errors {
		v.add(st.Sev(event.Warn).Render("could not read " + san(e)))
	}
}

// limitsText lists the limits people ask about first, soft/hard.
func limitsText(ls map[string]schema.Limit) string {
	v := func(n int64, unit string) string {
		switch {
		case n < 0:
			return "∞"
		case unit == "bytes":
			return fmtBytes(n)
		}
		return strconv.FormatInt(n, 10)
	}
	first := []string{"nofile", "nproc", "stack", "memlock", "as", "rss", "data", "fsize", "cpu", "sigpending"}
	var names []string
	for n := range ls {
		if n != "core" && !slices.Contains(first, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var parts []string
	for _, n := range append(first, names...) {
		if l, ok := ls[n]; ok {
			parts = append(parts, n+" "+v(l.Soft, l.Unit)+"/"+v(l.Hard, l.Unit))
		}
	}
	return strings.Join(parts, " · ")
}

// fmtAge is a duration as a person says it: 42s, 3m12s, 5h03m, 12d4h.
func fmtAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
