package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const (
	hostHistory  = 240 // samples kept per series
	hostLabelW   = 15  // cells left of each sparkline
	hostMaxSpark = 8   // history series drawn at most
)

// hostSeries are the histories the pane draws, in order: CPU by mode, then
// pressure stall of each resource.
var hostSeries = []struct {
	name, label string
	psi         bool
	get         func(s *schema.HostSample) (float64, bool)
}{
	{"user", "user", false, func(s *schema.HostSample) (float64, bool) { return s.CPU.User + s.CPU.Nice, true }},
	{"system", "system", false, func(s *schema.HostSample) (float64, bool) { return s.CPU.System, true }},
	{"iowait", "iowait", false, func(s *schema.HostSample) (float64, bool) { return s.CPU.IOWait, true }},
	{"steal", "steal", false, func(s *schema.HostSample) (float64, bool) { return s.CPU.Steal, true }},
	{"irq", "irq+soft", false, func(s *schema.HostSample) (float64, bool) { return s.CPU.IRQ + s.CPU.SoftIRQ, true }},
	{"psi cpu", "psi cpu", true, func(s *schema.HostSample) (float64, bool) { return psiSome(s, "cpu") }},
	{"psi memory", "psi mem", true, func(s *schema.HostSample) (float64, bool) { return psiSome(s, "memory") }},
	{"psi io", "psi io", true, func(s *schema.HostSample) (float64, bool) { return psiSome(s, "io") }},
}

func psiSome(s *schema.HostSample, res string) (float64, bool) {
	if r := s.PSI.Of(res); r != nil {
		return r.SomeAvg10, true
	}
	return 0, false
}

// hostPane is top, vmstat and free in one: load, CPU by mode, memory and
// pressure now, their history, and the processes behind them, sortable.
type hostPane struct {
	paneBase
	hkeys  hostKeys
	n      int
	last   schema.HostSample
	info   *schema.HostInfo
	hist   map[string]*ring
	sort   schema.HostSort
	selPID int // the selected process, kept across samples while it is listed
}

type hostKeys struct{ Sort, Up, Down, Open, Clear key.Binding }

func (k hostKeys) ShortHelp() []key.Binding { return []key.Binding{k.Sort, k.Down, k.Open} }
func (k hostKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Sort, k.Up, k.Down, k.Open, k.Clear}}
}

func newHostPane(env paneEnv) Pane {
	p := hostPane{paneBase: newPaneBase(env), hist: map[string]*ring{}, hkeys: hostKeys{
		Sort:  key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "host: sort processes by CPU, memory, I/O")),
		Up:    key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "host: select the process above")),
		Down:  key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "host: select the process below")),
		Open:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "host: open the selected process in the inspector")),
		Clear: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "host: clear the selection (enter zooms again)")),
	}}
	for _, s := range hostSeries {
		p.hist[s.name] = newRing(hostHistory)
	}
	return p
}

func init() { registerPane(schema.ProbeHost, newHostPane) }

func (p hostPane) ShortHelp() []key.Binding  { return p.hkeys.ShortHelp() }
func (p hostPane) FullHelp() [][]key.Binding { return p.hkeys.FullHelp() }

func (p hostPane) Reset() Pane {
	f := newHostPane(p.env).(hostPane)
	f.SetSize(p.w, p.h)
	f.sort = p.sort
	return f
}

// SelectedPID is the process the cursor is on, for a process view to open.
func (p hostPane) SelectedPID() (int, bool) {
	rows := p.rows()
	if i := p.selIndex(rows); i >= 0 {
		return rows[i].PID, true
	}
	return 0, false
}

// Claims takes enter (which zooms the pane otherwise) and esc while a
// process is selected.
func (p hostPane) Claims(msg tea.KeyPressMsg) bool {
	_, ok := p.SelectedPID()
	return ok && key.Matches(msg, p.hkeys.Open, p.hkeys.Clear)
}

func (p hostPane) Editing() bool { return false }

// Processes: the selected process first, then the list in the pane's
// order, for the inspector's picker (i).
func (p hostPane) Processes() []procRef {
	rows := p.rows()
	if i := p.selIndex(rows); i > 0 {
		rows = append(append([]schema.HostProc{rows[i]}, rows[:i]...), rows[i+1:]...)
	}
	out := make([]procRef, 0, len(rows))
	for _, r := range rows {
		out = append(out, procRef{pid: r.PID, comm: event.Sanitize(r.Comm), why: fmt.Sprintf("%.0f%% CPU, %s RSS, %s/s of I/O",
			r.CPUPct, fmtBytes(event.SatInt64(float64(r.RSSBytes))), fmtBytes(event.SatInt64(r.IOBytesPerS())))})
	}
	return out
}

func (p hostPane) Update(msg tea.KeyPressMsg) (Pane, tea.Cmd) {
	rows := p.rows()
	i := p.selIndex(rows)
	switch {
	case i >= 0 && key.Matches(msg, p.hkeys.Open):
		return p, inspectAsk(p.Processes()[:1])
	case key.Matches(msg, p.hkeys.Clear):
		p.selPID = 0
	case key.Matches(msg, p.hkeys.Sort):
		p.sort = (p.sort + 1) % schema.HostByFaults // cpu, mem, io
	case key.Matches(msg, p.hkeys.Down):
		if len(rows) > 0 {
			p.selPID = rows[min(i+1, len(rows)-1)].PID
		}
	case key.Matches(msg, p.hkeys.Up):
		if len(rows) > 0 {
			p.selPID = rows[max(i-1, 0)].PID
		}
	}
	return p, nil
}

// Apply keeps the latest sample and pushes the histories in place, as the
// iostat pane does.
func (p hostPane) Apply(ev event.Event) Pane {
	if info, ok := event.As[schema.HostInfo](ev); ok {
		c := *info
		p.info = &c
		return p
	}
	s, ok := event.As[schema.HostSample](ev)
	if !ok {
		return p
	}
	p.n++
	top, procs := p.last.Top, p.last.Procs
	p.last = *s
	if s.Top == nil { // no scan in this sample (a quiet host): the last one's list stands
		p.last.Top, p.last.Procs = top, procs
	} else {
		p.last.Top = append([]schema.HostProc(nil), s.Top[:min(len(s.Top), 64)]...)
	}
	for _, ser := range hostSeries {
		v, _ := ser.get(s)
		p.hist[ser.name].push(v)
	}
	return p
}

// rows are the last sample's processes in the pane's order.
func (p hostPane) rows() []schema.HostProc {
	rows := append([]schema.HostProc(nil), p.last.Top...)
	schema.SortHostProcs(rows, p.sort)
	return rows
}

func (p hostPane) selIndex(rows []schema.HostProc) int {
	for i, r := range rows {
		if r.PID == p.selPID {
			return i
		}
	}
	return -1
}

func (p hostPane) View() string {
	st := p.env.st
	if p.n == 0 {
		if p.info != nil && len(p.info.Unavailable) > 0 {
			return strings.Join(p.unavailable(), "\n")
		}
		return st.Muted.Render("waiting for the first sample…")
	}
	lines := p.now()
	room := p.h - len(lines)
	table := p.rows()
	if room >= 8 {
		n := p.histLines(room)
		lines = append(lines, p.history(n)...)
		room -= n
	}
	if room >= 2 {
		lines = append(lines, p.table(table, room)...)
		room = p.h - len(lines)
	}
	if room > 0 && p.info != nil {
		lines = append(lines, p.unavailable()[:min(room, len(p.info.Unavailable))]...)
	}
	return strings.Join(lines, "\n")
}

// now is the four lines of figures of the latest sample.
func (p hostPane) now() []string {
	st := p.env.st
	s := p.last
	load := fmt.Sprintf("load %.2f %.2f %.2f · %d CPUs · %d procs, %d running, %d blocked · %s ctxt/s · %s forks/s",
		s.Load1, s.Load5, s.Load15, s.CPU.CPUs, s.Procs, s.Running, s.Blocked, fmtSI(s.CtxtPerS), fmtSI(s.ForksPerS))
	if len(s.Forkers) > 0 && s.ForksPerS >= 10 {
		f := s.Forkers[0]
		load += fmt.Sprintf(" (most: %s %d, %s/s)", event.Sanitize(f.Comm), f.PID, fmtSI(f.ForksPerS))
	}
	c := s.CPU
	stealStyle := st.Text
	if c.Steal >= 10 {
		stealStyle = st.Sev(event.Warn)
	}
	cpu := fmt.Sprintf("cpu  user %.1f  sys %.1f  nice %.1f  iowait %.1f  irq %.1f  soft %.1f  ", c.User, c.System, c.Nice,
		c.IOWait, c.IRQ, c.SoftIRQ) + stealStyle.Render(fmt.Sprintf("steal %.1f", c.Steal)) + fmt.Sprintf("  idle %.1f", c.Idle)
	m := s.Mem
	b := func(n uint64) string { return fmtBytes(event.SatInt64(float64(n))) }
	swapStyle := st.Text
	if m.SwapInPerS > 0 && m.SwapOutPerS > 0 {
		swapStyle = st.Sev(event.Warn) // both ways at once: thrashing
	}
	mem := fmt.Sprintf("mem  used %s of %s · avail %s · ", b(m.UsedBytes), b(m.TotalBytes), b(m.AvailableBytes)) +
		swapStyle.Render(fmt.Sprintf("swap %s of %s, in %s/s out %s/s", b(m.SwapUsedBytes), b(m.SwapTotalBytes),
			fmtBytes(event.SatInt64(m.SwapInPerS)), fmtBytes(event.SatInt64(m.SwapOutPerS)))) +
		fmt.Sprintf(" · buff/cache %s · dirty %s · wb %s", b(m.BuffersBytes+m.CachedBytes), b(m.DirtyBytes), b(m.WritebackBytes))
	psi := st.Muted.Render("psi  none: this kernel keeps no pressure stall information")
	if s.PSI != nil {
		psi = "psi  some/full avg10"
		for _, res := range schema.PSIResources {
			r := s.PSI.Of(res)
			if r == nil {
				continue
			}
			sev := event.Info
			switch {
			case r.SomeAvg10 >= 50 || r.FullAvg10 >= 10:
				sev = event.Critical
			case r.SomeAvg10 >= 20:
				sev = event.Warn
			}
			v := fmt.Sprintf("%.1f/%.1f", r.SomeAvg10, r.FullAvg10)
			if sev > event.Info {
				v = st.Sev(sev).Render(v)
			}
			psi += fmt.Sprintf("  %s %s", res, v)
			if r.Cgroup != nil {
				psi += st.Muted.Render(fmt.Sprintf(" (%s %.0f)", event.Sanitize(r.Cgroup.Path), r.Cgroup.SomeAvg10))
			}
		}
	}
	out := []string{load, cpu, mem, psi}
	for i, l := range out {
		out[i] = clip(l, p.w)
	}
	return out
}

// histLines is how many lines the history takes out of room: a caption
// and a series a line, at most half the room, leaving the table 4.
func (p hostPane) histLines(room int) int {
	return min(1+p.seriesShown(), room/2, room-4)
}

func (p hostPane) seriesShown() int {
	n := 0
	for _, s := range hostSeries {
		if s.psi && p.last.PSI == nil {
			continue
		}
		n++
	}
	return min(n, hostMaxSpark)
}

// history draws the caption and one sparkline per series, as many as fit
// in n lines; steal and iowait are shown only if they ever rose.
func (p hostPane) history(n int) []string {
	st := p.env.st
	if n < 2 {
		return nil
	}
	lines := []string{st.Muted.Render(clip("% of all CPUs by mode, and PSI some avg10; newest right", p.w))}
	sw := p.w - hostLabelW
	if sw < 4 {
		return lines
	}
	for _, ser := range hostSeries {
		if len(lines) >= n {
			break
		}
		if ser.psi && p.last.PSI == nil {
			continue
		}
		r := p.hist[ser.name]
		if (ser.name == "steal" || ser.name == "irq") && r.max() == 0 && n-1 < len(hostSeries) {
			continue // nothing to see, and no room to spare
		}
		now := r.last(1)
		label := fmt.Sprintf("%-8s%4.0f%%", ser.label, now[0])
		style := st.Spark
		if ser.psi && now[0] >= 20 {
			style = st.Sev(event.Warn)
		}
		lines = append(lines, fit(label, hostLabelW-1)+" "+style.Render(sparkRows(r.last(sw), sw, 1, 100)[0]))
	}
	return lines
}

// table is a header and up to rows-1 processes in the pane's order.
func (p hostPane) table(rows []schema.HostProc, n int) []string {
	st := p.env.st
	head := fmt.Sprintf("  %7s %-8s %s %6s %9s %9s %9s  %s", "PID", "USER", "S", "%CPU", "RSS", "READ/s", "WRITE/s",
		fmt.Sprintf("COMM  (by %s; o: sort, ↑↓: select)", p.sort))
	lines := []string{st.TableHeader.Render(clip(head, p.w))}
	sel := p.selIndex(rows)
	start := 0
	if sel >= n-1 {
		start = sel - (n - 2)
	}
	for i := start; i < len(rows) && len(lines) < n; i++ {
		r := rows[i]
		mark := "  "
		if i == sel {
			mark = "▸ "
		}
		row := mark + fmt.Sprintf("%7d %-8s %s %6.1f %9s %9s %9s  %s", r.PID, fit(event.Sanitize(r.User), 8),
			fit(event.Sanitize(r.State), 1), r.CPUPct, fmtBytes(event.SatInt64(float64(r.RSSBytes))),
			fmtBytes(event.SatInt64(r.ReadBytesPerS)), fmtBytes(event.SatInt64(r.WriteBytesPerS)), event.Sanitize(r.Comm))
		style := st.Text
		switch {
		case i == sel:
			style = st.Accent
		case r.State == "D":
			style = st.Sev(event.Warn) // waiting on I/O, uninterruptibly
		}
		lines = append(lines, style.Render(clip(row, p.w)))
	}
	if len(rows) == 0 {
		lines = append(lines, st.Muted.Render("no process used CPU, memory or I/O"))
	}
	return lines
}

// unavailable is a line per part of the probe this host cannot give.
func (p hostPane) unavailable() []string {
	var out []string
	if p.info == nil {
		return nil
	}
	for _, u := range p.info.Unavailable {
		out = append(out, p.env.st.Muted.Render(clip(event.Sanitize(u.Part)+" unavailable: "+event.Sanitize(u.Reason), p.w)))
	}
	return out
}
