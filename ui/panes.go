package ui

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// maxPanes caps the panes a recording can make us create, one per probe
// name on each host: 64 hosts of eight probes.
const maxPanes = 512

// paneSet is the grid of probe panes: it routes each probe's events to its
// pane, keeps every probe's status, and owns focus and zoom. With events
// from several hosts, each probe has a pane on each host (see hosts.go).
type paneSet struct {
	env    paneEnv
	keys   paneKeys
	slots  []slot
	index  map[paneKey]int // each pane's place in slots, for routing an event
	seq    map[string]int  // each probe's order of first appearance, for panes this build does not know
	hosts  paneHosts
	focus  int
	zoomed bool
	auto   bool // zoomed for a pane's detail view, unzoomed when it closes
	blur   bool // the keys are elsewhere (the findings strip): no pane drawn focused
	w, h   int
}

// momentPane is a pane that can show the moment t: when a finding was
// raised (g in an opened finding). The timeline panes select the row there.
type momentPane interface {
	ShowMoment(t time.Time) Pane
}

// slot is one probe on one host: its status and its pane.
type slot struct {
	host     string // as the events say it: "" is the local host (the recording's)
	probe    string
	pane     Pane
	status   event.ProbeStatus
	known    bool       // a probe_status has been seen
	statuses []statusAt // recent status changes, so a seek can restore the one in force
	events   int
}

type statusAt struct {
	at time.Time
	s  event.ProbeStatus
}

const maxStatusLog = 32

type paneKeys struct {
	Next, Prev, Jump, Zoom key.Binding
}

func (k paneKeys) ShortHelp() []key.Binding { return []key.Binding{k.Next, k.Zoom} }
func (k paneKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Next, k.Prev, k.Jump, k.Zoom}}
}

func newPaneSet(probeNames []string, env paneEnv) paneSet {
	ps := paneSet{env: env, keys: paneKeys{
		Next: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		Prev: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Jump: key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("1-9", "focus pane n")),
		Zoom: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "zoom pane / back")),
	}}
	for _, p := range probeNames {
		ps, _ = ps.slotFor("", p)
	}
	return ps
}

// paneRank is a probe's place among the panes: the registry's order (the
// README's --probes list), whatever order --probes named them in or a
// recording first mentions them in, so pane n is the same probe live and
// in a replay. Probes this build does not know go last, as they come.
func paneRank(probe string) int {
	names := schema.ProbeNames()
	for i, n := range names {
		if n == probe {
			return i
		}
	}
	return len(names)
}

// slotFor finds or adds the slot of a probe on a host, in pane order (see
// paneRank and paneSet.compare); the index is -1 past maxPanes. Finding
// it is one map lookup, however many hosts and panes there are. Focus
// stays on the pane it was on.
func (ps paneSet) slotFor(host, probe string) (paneSet, int) {
	if i, ok := ps.index[paneKey{host, probe}]; ok {
		return ps, i
	}
	if len(ps.slots) >= maxPanes {
		return ps, -1
	}
	if _, ok := ps.seq[probe]; !ok {
		seq := make(map[string]int, len(ps.seq)+1)
		maps.Copy(seq, ps.seq)
		seq[probe] = len(ps.seq)
		ps.seq = seq
	}
	s := slot{host: host, probe: probe, pane: newPane(probe, ps.env)}
	at := len(ps.slots)
	for i := range ps.slots {
		if ps.compare(s, ps.slots[i]) < 0 {
			at = i
			break
		}
	}
	slots := make([]slot, 0, len(ps.slots)+1)
	slots = append(append(append(slots, ps.slots[:at]...), s), ps.slots[at:]...)
	ps.slots = slots
	ps.index = indexSlots(slots)
	if host != "" {
		ps.hosts.named = true
	}
	if at <= ps.focus && len(ps.slots) > 1 {
		ps.focus++
	}
	return ps, at
}

// Apply routes one probe event or probe_status to its pane.
func (ps paneSet) Apply(ev event.Event) paneSet {
	if ev.Probe == "" {
		return ps
	}
	ps, i := ps.slotFor(ev.Host, ev.Probe)
	if i < 0 {
		return ps
	}
	s := &ps.slots[i]
	if ev.Kind == event.KindProbeStatus {
		if b, ok := asProbeStatus(ev); ok {
			s.status, s.known = b, true
			s.statuses = append(s.statuses, statusAt{ev.Time, b})
			if len(s.statuses) > maxStatusLog {
				s.statuses = append([]statusAt(nil), s.statuses[len(s.statuses)-maxStatusLog:]...)
			}
		}
		return ps
	}
	s.events++
	s.pane = s.pane.Apply(ev)
	return ps
}

func asProbeStatus(ev event.Event) (event.ProbeStatus, bool) {
	switch b := ev.Body.(type) {
	case *event.ProbeStatus:
		return *b, true
	case event.ProbeStatus:
		return b, true
	}
	return event.ProbeStatus{}, false
}

// ResetAt empties every pane before a seek to t; each probe keeps the last
// status it had at or before t.
func (ps paneSet) ResetAt(t time.Time) paneSet {
	slots := make([]slot, len(ps.slots))
	for i, s := range ps.slots {
		s.pane, s.events, s.known, s.status = resetPaneOf(s.probe, s.pane, ps.env), 0, false, event.ProbeStatus{}
		for _, c := range s.statuses {
			if !c.at.After(t) {
				s.status, s.known = c.s, true
			}
		}
		slots[i] = s
	}
	ps.slots = slots
	return ps
}

func (ps paneSet) SetSize(w, h int) paneSet { ps.w, ps.h = w, h; return ps }

// Editing says the focused pane is editing a line: it gets every key.
func (ps paneSet) Editing() bool {
	c, ok := ps.focused().(claimingPane)
	return ok && c.Editing()
}

// Claims says the focused pane wants msg before the root's keys do.
func (ps paneSet) Claims(msg tea.KeyPressMsg) bool {
	c, ok := ps.focused().(claimingPane)
	return ok && (c.Editing() || c.Claims(msg))
}

// Paste gives pasted text to the focused pane's line being edited.
func (ps paneSet) Paste(text string) paneSet {
	if p, ok := ps.focused().(pastePane); ok && ps.Editing() {
		slots := append([]slot(nil), ps.slots...)
		slots[ps.focus].pane = p.Paste(text)
		ps.slots = slots
	}
	return ps
}

func (ps paneSet) focused() Pane {
	if len(ps.slots) == 0 {
		return nil
	}
	return ps.slots[ps.focus].pane
}

// Update handles focus and zoom keys and passes the rest to the focused
// pane, and to it first the keys it claims.
func (ps paneSet) Update(msg tea.KeyPressMsg) (paneSet, tea.Cmd) {
	n := len(ps.slots)
	if n == 0 {
		return ps, nil
	}
	switch {
	case ps.Claims(msg):
		var cmd tea.Cmd
		ps.slots[ps.focus].pane, cmd = updatePane(ps.slots[ps.focus].pane, msg)
		return ps.zoomForDetail(), onHost(ps.slots[ps.focus].host, cmd)
	case key.Matches(msg, ps.keys.Next):
		ps.focus = (ps.focus + 1) % n
	case key.Matches(msg, ps.keys.Prev):
		ps.focus = (ps.focus - 1 + n) % n
	case key.Matches(msg, ps.keys.Jump):
		if i := int(msg.String()[0] - '1'); i < n {
			ps.focus = i
		}
	case key.Matches(msg, ps.keys.Zoom):
		ps.zoomed = !ps.zoomed
	default:
		var cmd tea.Cmd
		ps.slots[ps.focus].pane, cmd = updatePane(ps.slots[ps.focus].pane, msg)
		return ps, onHost(ps.slots[ps.focus].host, cmd)
	}
	return ps, nil
}

// zoomForDetail zooms the focused pane while it shows a detail view, and
// gives the grid back when the view closes, unless it was zoomed before.
func (ps paneSet) zoomForDetail() paneSet {
	d, ok := ps.focused().(detailPane)
	switch shows := ok && d.ShowsDetail(); {
	case shows && !ps.zoomed:
		ps.zoomed, ps.auto = true, true
	case !shows && ps.auto:
		ps.zoomed, ps.auto = false, false
	}
	return ps
}

// Blur draws no pane focused while the keys are elsewhere.
func (ps paneSet) Blur(on bool) paneSet { ps.blur = on; return ps }

// IsFocusKey says whether msg moves the focus between panes.
func (ps paneSet) IsFocusKey(msg tea.KeyPressMsg) bool {
	return key.Matches(msg, ps.keys.Next, ps.keys.Prev, ps.keys.Jump)
}

// IndexOf is the pane of probe on the local host, -1 if it has none.
func (ps paneSet) IndexOf(probe string) int { return ps.IndexOn("", probe) }

// IndexOn is the pane of probe on host, -1 if it has none.
func (ps paneSet) IndexOn(host, probe string) int {
	if i, ok := ps.index[paneKey{host, probe}]; ok {
		return i
	}
	return -1
}

// Label names pane i as its title does: "1 iostat", "4 r1 · packets".
func (ps paneSet) Label(i int) string {
	if i < 0 || i >= len(ps.slots) {
		return ""
	}
	return fmt.Sprintf("%d %s", i+1, ps.hosts.name(ps.slots[i]))
}

// ShowAt focuses pane i (none when i is out of range: a note's g) and has
// every pane that can show a moment show t: the timelines (signals,
// packets, kmsg) each select their row at t, so what the finding's pane
// and the others saw then is on screen together.
func (ps paneSet) ShowAt(i int, t time.Time) paneSet {
	if i >= 0 && i < len(ps.slots) {
		ps.focus = i
	}
	ps.zoomed, ps.auto = false, false
	slots := append([]slot(nil), ps.slots...)
	for j, s := range slots {
		if mp, ok := s.pane.(momentPane); ok {
			slots[j].pane = mp.ShowMoment(t)
		}
	}
	ps.slots = slots
	return ps
}

// Focused is the index of the focused pane; Zoomed says whether it fills the grid.
func (ps paneSet) Focused() int { return ps.focus }
func (ps paneSet) Zoomed() bool { return ps.zoomed }
func (ps paneSet) Len() int     { return len(ps.slots) }

// cells is where each pane drawn goes in the grid.
func (ps paneSet) cells() []cell {
	if ps.zoomed {
		return []cell{{pane: ps.focus, w: ps.w, h: ps.h}}
	}
	if ps.hosts.named {
		return ps.groupedCells()
	}
	// Compact panes are packed with each other; wrap their text to that width.
	nc := 0
	for _, s := range ps.slots {
		if s.compactLines(ps.w, ps.env) > 0 {
			nc++
		}
	}
	cw := ps.w / columnsFor(ps.w, nc)
	want := make([]int, len(ps.slots))
	for i, s := range ps.slots {
		if n := s.compactLines(cw-2, ps.env); n > 0 {
			want[i] = n + 2
		}
	}
	return layoutGrid(want, ps.w, ps.h, ps.focus)
}

// grid lays the panes out. Panes that do not fit are not left out
// silently: hidden lists them, and the grid leaves its last line to say so.
func (ps paneSet) grid() (cells []cell, hidden []int) {
	cells = ps.cells()
	if ps.zoomed || len(hiddenPanes(cells, len(ps.slots))) == 0 {
		return cells, nil
	}
	short := ps
	short.h--
	cells = short.cells()
	return cells, hiddenPanes(cells, len(ps.slots))
}

func hiddenPanes(cells []cell, n int) []int {
	shown := make([]bool, n)
	for _, c := range cells {
		shown[c.pane] = true
	}
	var out []int
	for i, s := range shown {
		if !s {
			out = append(out, i)
		}
	}
	return out
}

// hiddenLine names the panes that did not fit: "+3 panes: 6 conntrack,
// 7 modules, 8 coredump".
func (ps paneSet) hiddenLine(hidden []int) string {
	names := make([]string, len(hidden))
	for i, p := range hidden {
		names[i] = fmt.Sprintf("%d %s", p+1, ps.hosts.short(ps.slots[p]))
	}
	word := "panes"
	if len(hidden) == 1 {
		word = "pane"
	}
	return ps.env.st.Muted.Render(clip(fmt.Sprintf("+%d %s: %s · tab or the number shows one", len(hidden), word, strings.Join(names, ", ")), ps.w))
}

// at is the pane drawn at (x, y) of the grid, -1 for none.
func (ps paneSet) at(x, y int) int {
	cells, _ := ps.grid()
	for _, c := range cells {
		if x >= c.x && x < c.x+c.w && y >= c.y && y < c.y+c.h {
			return c.pane
		}
	}
	return -1
}

// Click focuses the pane at (x, y) of the grid.
func (ps paneSet) Click(x, y int) paneSet {
	if i := ps.at(x, y); i >= 0 {
		ps.focus = i
	}
	return ps
}

// Wheel scrolls the pane at (x, y) of the grid by n rows, if it scrolls.
func (ps paneSet) Wheel(x, y, n int) paneSet {
	i := ps.at(x, y)
	if i < 0 {
		return ps
	}
	if s, ok := ps.slots[i].pane.(scrollPane); ok {
		slots := append([]slot(nil), ps.slots...)
		slots[i].pane = s.Scroll(n)
		ps.slots = slots
	}
	return ps
}

func (ps paneSet) View() string {
	if len(ps.slots) == 0 {
		return block(ps.env.st.Muted.Render("no probes"), ps.w, ps.h)
	}
	cells, hidden := ps.grid()
	// Cells come row by row; join each row's boxes side by side.
	var rows []string
	for i := 0; i < len(cells); {
		j := i
		var boxes []string
		for ; j < len(cells) && cells[j].y == cells[i].y; j++ {
			c := cells[j]
			boxes = append(boxes, ps.slots[c.pane].view(ps.hosts.name(ps.slots[c.pane]), c.pane, c.w, c.h, c.pane == ps.focus && !ps.blur, ps.zoomed, ps.env))
		}
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, boxes...))
		i = j
	}
	if len(hidden) > 0 {
		return block(strings.Join(rows, "\n"), ps.w, ps.h-1) + "\n" + ps.hiddenLine(hidden)
	}
	return block(strings.Join(rows, "\n"), ps.w, ps.h)
}

// compactLines is how many content lines a slot needs when it has no data to
// show (unavailable, error, waiting, or a pane that asks for little); 0
// means it takes a share of the room.
func (s slot) compactLines(w int, env paneEnv) int {
	if msg := s.statusText(); msg != "" {
		return len(wrap(msg, max(w, 1), 3))
	}
	if !s.known && s.events == 0 {
		return 1
	}
	if c, ok := s.pane.(compactPane); ok {
		return c.ContentHeight()
	}
	return 0
}

// statusText is the pane body when the probe is not running.
func (s slot) statusText() string {
	switch s.status.Status {
	case event.StatusUnavailable, event.StatusError:
		if s.status.Reason == "" {
			return s.status.Status
		}
		return s.status.Status + ": " + event.Sanitize(s.status.Reason)
	}
	return ""
}

// title is "1 iostat · ok"; name is the pane's ("r1 · iostat" when
// there are several hosts).
func (s slot) title(name string, i int, zoomed bool) string {
	state := s.status.Status
	if !s.known {
		state = "waiting"
	}
	t := fmt.Sprintf("%d %s · %s", i+1, name, event.Sanitize(state))
	if zoomed {
		t += " · zoomed (enter to go back)"
	}
	return t
}

func (s slot) view(name string, i, w, h int, focused, zoomed bool, env paneEnv) string {
	iw, ih := max(w-2, 0), max(h-2, 0)
	var body string
	switch msg := s.statusText(); {
	case msg != "":
		st := env.st.Sev(event.Warn)
		if s.status.Status == event.StatusError {
			st = env.st.Sev(event.Critical)
		}
		lines := wrap(msg, iw, ih)
		if len(lines) > 0 { // colour only the "unavailable"/"error" word
			word := s.status.Status
			if strings.HasPrefix(lines[0], word) {
				lines[0] = st.Render(word) + lines[0][len(word):]
			}
		}
		body = strings.Join(lines, "\n")
	case !s.known && s.events == 0:
		body = env.st.Muted.Render("waiting for the first event…")
	default:
		s.pane.SetSize(iw, ih)
		body = s.pane.View()
	}
	return box(s.title(name, i, zoomed), body, w, h, focused, env.st)
}
