package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
)

// Evidence is what shows a finding: the recorded events around it, as the
// handoff report chooses them. The wiring reads them (Options.Evidence);
// the UI only lays them out.
type Evidence struct {
	Title   string
	Columns []string // the first is the time's
	Rows    []EvidenceRow
	// Note says something about where the rows came from (a recording
	// still being written, a redacted one), or why there are none.
	Note string
}

// EvidenceRow is one event (or packet) of the evidence; Mark is set on
// the one at the finding's time.
type EvidenceRow struct {
	Time  time.Time
	Cells []string // after the time
	Mark  bool
}

// findingView is an opened finding or note (Enter on the findings strip):
// its whole summary, its data as a table, its evidence, and g to go to the
// pane it came from at its moment. It is drawn in the grid's place.
type findingView struct {
	env   paneEnv
	keys  findingKeys
	note  bool
	sev   event.Severity
	name  string // finding name, or a note's author; sanitized
	text  string // summary or note text; sanitized
	probe string
	at    time.Time // its moment: when the condition was raised, or the note's time
	more  string    // "×3, last at 04:00:15"
	data  [][2]string

	host     string // its host as its event says ("" the local one), whose pane g focuses
	hostName string // how the strip names that host, "" when there is one host

	gen      int // the evidence request this view waits for
	loading  bool
	evidence *Evidence
	evErr    string
	off      int // first body line shown
	w, h     int // inside the box
}

type findingKeys struct {
	Close, Jump, Up, Down, PageUp, PageDown key.Binding
}

func newFindingKeys() findingKeys {
	return findingKeys{
		Close:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close the opened finding")),
		Jump:     key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "go to the opened or selected finding's moment in every timeline")),
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scroll the opened finding")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
	}
}

func (k findingKeys) all() []key.Binding {
	return []key.Binding{k.Close, k.Jump, k.Up, k.Down, k.PageUp, k.PageDown}
}

// evidenceMsg brings a finding's evidence, read off the UI goroutine.
type evidenceMsg struct {
	gen int
	ev  Evidence
	err error
}

// openFinding builds the view of a strip item; with a reader of
// evidence, it also returns the command that reads it.
func openFinding(env paneEnv, it *stripItem, gen int, read func(first, last event.Event) (Evidence, error)) (*findingView, tea.Cmd) {
	v := &findingView{env: env, keys: newFindingKeys(), note: it.note, name: it.name, text: it.text, at: it.at, gen: gen, host: it.host}
	if it.c == nil {
		return v, nil
	}
	f := it.c.Finding()
	v.sev, v.probe, v.at = it.c.Worst, it.c.First.Probe, it.c.Since()
	var more []string
	if n := it.c.Count(); n > 1 {
		more = append(more, fmt.Sprintf("×%d", n))
	}
	clock := v.clock(it.c.Last.Time)
	switch {
	case f.State == event.FindingCleared:
		more = append(more, "cleared at "+clock)
	case it.c.Events > 1 || f.State == event.FindingUpdate:
		more = append(more, "last at "+clock)
	}
	v.more = strings.Join(more, ", ")
	v.data = dataRows(f.Data)
	if read == nil {
		v.evErr = "not available here"
		return v, nil
	}
	v.loading = true
	first, last := it.c.First, it.c.Last
	return v, func() tea.Msg {
		ev, err := read(first, last)
		return evidenceMsg{gen: gen, ev: ev, err: err}
	}
}

func (v *findingView) clock(t time.Time) string { return t.In(v.env.loc).Format("15:04:05") }

// Evidence takes the evidence read for request gen.
func (v findingView) Evidence(msg evidenceMsg) findingView {
	if msg.gen != v.gen {
		return v
	}
	v.loading = false
	if msg.err != nil {
		v.evErr = event.Sanitize(msg.err.Error())
	}
	v.evidence = &msg.ev
	return v
}

// Handles says whether msg is one of the view's keys.
func (v findingView) Handles(msg tea.KeyPressMsg) bool { return key.Matches(msg, v.keys.all()...) }

// Scroll handles the scrolling keys.
func (v findingView) Scroll(msg tea.KeyPressMsg) findingView {
	page := max(v.h-1, 1)
	switch {
	case key.Matches(msg, v.keys.Up):
		v.off--
	case key.Matches(msg, v.keys.Down):
		v.off++
	case key.Matches(msg, v.keys.PageUp):
		v.off -= page
	case key.Matches(msg, v.keys.PageDown):
		v.off += page
	}
	v.off = clamp(v.off, 0, max(len(v.body())-v.h, 0))
	return v
}

func (v findingView) SetSize(w, h int) findingView {
	v.w, v.h = max(w-2, 0), max(h-2, 0)
	v.off = clamp(v.off, 0, max(len(v.body())-v.h, 0))
	return v
}

// View draws the box, w×h, in the grid's place. paneLabel names the pane g
// goes to ("" when the finding's probe has none).
func (v findingView) View(w, h int, paneLabel string) string {
	v = v.SetSize(w, h)
	what := "finding"
	jump := "g go to " + paneLabel + " at " + v.clock(v.at)
	if v.note {
		what, jump = "note", "g go to "+v.clock(v.at)
	} else if paneLabel == "" {
		jump = "g go to " + v.clock(v.at)
	}
	title := what + " · esc close · " + jump
	body := v.body()
	if len(body) > v.h {
		title += fmt.Sprintf(" · ↑↓ %d/%d", v.off+1, len(body)-v.h+1)
	}
	end := min(v.off+v.h, len(body))
	return box(title, strings.Join(body[min(v.off, end):end], "\n"), w, h, true, v.env.st)
}

// body is every line of the view, each at most v.w cells.
func (v findingView) body() []string {
	st := v.env.st
	w := max(v.w, 1)
	var lines []string
	add := func(s string) { lines = append(lines, clip(s, w)) }
	head := st.Accent.Render("NOTE") + " " + v.clock(v.at) + " by " + st.Accent.Render(v.name)
	if !v.note {
		label := "CRIT"
		if int(v.sev) >= 0 && int(v.sev) < len(sevLabel) {
			label = sevLabel[v.sev]
		}
		where := event.Sanitize(v.probe)
		if v.hostName != "" {
			where = v.hostName + " · " + where
		}
		head = st.Sev(v.sev).Render(label+" "+v.name) + st.Muted.Render(" · "+where+" · raised "+v.clock(v.at))
		if v.more != "" {
			head += st.Muted.Render(" · " + v.more)
		}
	}
	add(head)
	for _, l := range wrap(v.text, w, 1000) {
		add(st.Text.Render(l))
	}
	if v.note {
		return lines
	}
	if len(v.data) > 0 {
		add("")
		add(st.TableHeader.Render("data"))
		kw := 0
		for _, r := range v.data {
			kw = max(kw, ansi.StringWidth(r[0]))
		}
		kw = min(kw, max(w/3, 8))
		for _, r := range v.data {
			for i, l := range wrap(r[1], max(w-kw-4, 8), 20) {
				k := ""
				if i == 0 {
					k = r[0]
				}
				add("  " + st.Muted.Render(fit(k, kw)) + "  " + l)
			}
		}
	}
	add("")
	return append(lines, v.evidenceLines(w)...)
}

// evidenceLines lays the evidence out as a table: a column per field,
// each as wide as its widest cell (at most 40), the row at the finding's
// time marked ▶.
func (v findingView) evidenceLines(w int) []string {
	st := v.env.st
	switch {
	case v.loading:
		return []string{st.TableHeader.Render("evidence"), st.Muted.Render("  reading the recording…")}
	case v.evidence == nil && v.evErr != "":
		return []string{st.TableHeader.Render("evidence"), st.Muted.Render(clip("  "+v.evErr, w))}
	case v.evidence == nil:
		return nil
	}
	e := v.evidence
	title := "evidence"
	if e.Title != "" {
		title += " · " + event.Sanitize(e.Title)
	}
	lines := []string{clip(st.TableHeader.Render(title), w)}
	if e.Note != "" {
		lines = append(lines, st.Muted.Render(clip("  "+event.Sanitize(e.Note), w)))
	}
	if v.evErr != "" {
		lines = append(lines, st.Error.Render(clip("  "+v.evErr, w)))
	}
	if len(e.Rows) == 0 {
		return append(lines, st.Muted.Render("  no recorded event around it"))
	}
	const timeW = 12 // 15:04:05.000
	ncol := len(e.Columns) - 1
	for _, r := range e.Rows {
		ncol = max(ncol, len(r.Cells))
	}
	widths := make([]int, ncol)
	for i := range widths {
		if i+1 < len(e.Columns) {
			widths[i] = ansi.StringWidth(event.Sanitize(e.Columns[i+1]))
		}
		for _, r := range e.Rows {
			if i < len(r.Cells) {
				widths[i] = max(widths[i], ansi.StringWidth(event.Sanitize(r.Cells[i])))
			}
		}
		widths[i] = min(widths[i], 40)
	}
	row := func(mark, first string, cells []string) string {
		parts := []string{mark + fit(first, timeW)}
		for i, c := range cells {
			if i == len(cells)-1 {
				parts = append(parts, c) // the last column is cut only at the edge
				break
			}
			parts = append(parts, fit(c, widths[i]))
		}
		return clip(strings.Join(parts, "  "), w)
	}
	header := make([]string, ncol)
	for i := range header {
		if i+1 < len(e.Columns) {
			header[i] = event.Sanitize(e.Columns[i+1])
		}
	}
	first := "time"
	if len(e.Columns) > 0 {
		first = event.Sanitize(e.Columns[0])
	}
	lines = append(lines, st.TableHeader.Render(row("  ", first, header)))
	for _, r := range e.Rows {
		cells := make([]string, len(r.Cells))
		for i, c := range r.Cells {
			cells[i] = event.Sanitize(c)
		}
		t := r.Time.In(v.env.loc).Format("15:04:05.000")
		if r.Mark {
			lines = append(lines, st.Accent.Render(row("▶ ", t, cells)))
		} else {
			lines = append(lines, row("  ", t, cells))
		}
	}
	return lines
}

// dataRows lays a finding's data out as rows of a name and a value, in
// the order and with the names of its JSON form (the public contract that
// `stakeout events` prints): nested objects and lists are written inline
// in words, a list of objects one row per element. Strings are sanitized.
func dataRows(data any) [][2]string {
	if data == nil {
		return nil
	}
	b, err := event.MarshalFinite(data)
	if err != nil {
		return [][2]string{{"data", "unreadable: " + event.Sanitize(err.Error())}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readJSON(dec, 0)
	if err != nil {
		return nil
	}
	if v.keys == nil {
		return [][2]string{{"data", v.inline()}}
	}
	var rows [][2]string
	for i, k := range v.keys {
		val := v.vals[i]
		if val.list && len(val.vals) > 0 && val.vals[0].keys != nil {
			for j, el := range val.vals {
				rows = append(rows, [2]string{fmt.Sprintf("%s %d", k, j+1), el.inline()})
			}
			continue
		}
		rows = append(rows, [2]string{k, val.inline()})
	}
	return rows
}

// jsonValue is a decoded JSON value that keeps its object's key order.
type jsonValue struct {
	scalar string
	list   bool
	keys   []string // an object's keys, in order (non-nil for an object)
	vals   []jsonValue
}

// maxDataDepth bounds the nesting readJSON follows.
const maxDataDepth = 16

func readJSON(dec *json.Decoder, depth int) (jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return jsonValue{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth > maxDataDepth {
			return jsonValue{}, fmt.Errorf("nested too deep")
		}
		v := jsonValue{list: t == '['}
		if t == '{' {
			v.keys = []string{}
		}
		for dec.More() {
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return jsonValue{}, err
				}
				ks, _ := k.(string)
				v.keys = append(v.keys, event.Sanitize(ks))
			}
			el, err := readJSON(dec, depth+1)
			if err != nil {
				return jsonValue{}, err
			}
			v.vals = append(v.vals, el)
		}
		_, err := dec.Token() // the closing delimiter
		return v, err
	case string:
		return jsonValue{scalar: event.Sanitize(t)}, nil
	case nil:
		return jsonValue{scalar: "—"}, nil
	default:
		return jsonValue{scalar: fmt.Sprint(t)}, nil
	}
}

// inline writes a value on one line: an object as "name value, …", a list
// as its elements joined by ", " (by "; " when they are objects).
func (v jsonValue) inline() string {
	switch {
	case v.keys != nil:
		parts := make([]string, len(v.keys))
		for i, k := range v.keys {
			val := v.vals[i].inline()
			if v.vals[i].keys != nil || (v.vals[i].list && len(v.vals[i].vals) > 0 && v.vals[i].vals[0].keys != nil) {
				val = "(" + val + ")"
			}
			parts[i] = k + " " + val
		}
		return strings.Join(parts, ", ")
	case v.list:
		sep := ", "
		if len(v.vals) > 0 && v.vals[0].keys != nil {
			sep = "; "
		}
		parts := make([]string, len(v.vals))
		for i, el := range v.vals {
			parts[i] = el.inline()
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, sep)
	}
	return v.scalar
}
