package ui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// nav is a key press press() does not know: arrows and paging.
func nav(s string) tea.KeyPressMsg {
	switch s {
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	}
	return press(s)
}

func keys(m Model, ks ...string) Model {
	for _, k := range ks {
		m = update(m, nav(k))
	}
	return m
}

// satData is an io.saturated finding's data, as the detector makes it.
type satData struct {
	Device  string  `json:"device"`
	AwaitMs float64 `json:"await_ms"`
	AquSz   float64 `json:"aqu_sz"`
	UtilPct float64 `json:"util_pct"`
	Seconds float64 `json:"seconds"`
}

// findingSession is fixtureSession with its findings as a detector makes
// them: one condition (raised warn at 04:00:08, critical at 04:00:15) with
// its key and data.
func findingSession() []event.Event {
	var evs []event.Event
	for _, ev := range fixtureSession() {
		f, ok := event.As[event.Finding](ev)
		if !ok {
			evs = append(evs, ev)
			continue
		}
		g := *f
		g.Key = "io.saturated sdb"
		g.Data = satData{Device: "sdb", AwaitMs: 250.3, AquSz: 42.1, UtilPct: 98, Seconds: 3}
		if g.Severity == event.Critical {
			g.State, g.Since, g.Count = event.FindingUpdate, t0.Add(8*time.Second), 10
			g.Data = satData{Device: "sdb", AwaitMs: 250.3, AquSz: 42.1, UtilPct: 99.8, Seconds: 10}
		}
		evs = append(evs, event.New(ev.Time, ev.Probe, &g))
	}
	return evs
}

// fakeEvidence picks, as handoff would for io.saturated, sdb's samples
// from six seconds before the raise to one after, marking the raise.
func fakeEvidence(evs []event.Event) func(first, last event.Event) (Evidence, error) {
	return func(first, last event.Event) (Evidence, error) {
		e := Evidence{Title: "iostat samples of sdb", Columns: []string{"time", "r/s", "w/s", "await", "aqu-sz", "%util"}}
		for _, ev := range evs {
			s, ok := event.As[schema.IOSample](ev)
			if !ok || ev.Time.Before(first.Time.Add(-6*time.Second)) || ev.Time.After(first.Time.Add(time.Second)) {
				continue
			}
			for _, d := range s.Devices {
				if d.Device == "sdb" {
					e.Rows = append(e.Rows, EvidenceRow{Time: ev.Time, Mark: ev.Time.Equal(first.Time), Cells: []string{
						fmt.Sprint(d.RPerS), fmt.Sprint(d.WPerS), fmt.Sprintf("%.1f ms", d.AwaitMs()), fmt.Sprint(d.AquSz), fmt.Sprintf("%.1f%%", d.UtilPct)}})
				}
			}
		}
		return e, nil
	}
}

func findingOptions() Options {
	o := testOptions()
	o.Evidence = fakeEvidence(findingSession())
	return o
}

func liveFindings(w, h int) Model {
	return update(NewLive(findingOptions()), tea.WindowSizeMsg{Width: w, Height: h}, EventsMsg(findingSession()),
		RecordingMsg{File: "/var/tmp/db-7-0400.stk", Bytes: 3 << 20, State: "recording"})
}

// run executes a command as the program would, and hands its message back.
func runCmd(m Model, cmd tea.Cmd) Model {
	if cmd == nil {
		return m
	}
	if msg := cmd(); msg != nil {
		next, _ := m.Update(msg)
		return next.(Model)
	}
	return m
}

// 0 gives the strip the keys: its lines can be selected (▶, and the status
// line says which), Enter opens one, esc goes back; tab or a pane's
// number takes the keys back to the panes.
func TestStripFocusSelectsAndOpens(t *testing.T) {
	m := update(NewLive(testOptions()), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg(fixtureSession()))
	m = keys(m, "0")
	if !m.strip.Focused() {
		t.Fatal("0 did not focus the strip")
	}
	lines := stripLines(t, m)
	if !strings.HasPrefix(lines[0], "▶CRIT 04:00:15 io.saturated") || !strings.HasPrefix(lines[1], "▌WARN") {
		t.Errorf("strip:\n%s", strings.Join(lines, "\n"))
	}
	if s := screen(t, m); !strings.Contains(s, "finding 1/2") || strings.Contains(s, "┏━ 1 iostat") {
		t.Errorf("status line should say finding 1/2 and no pane be focused:\n%s", s)
	}
	m = keys(m, "down", "down") // stays on the last
	if lines := stripLines(t, m); !strings.HasPrefix(lines[1], "▶WARN 04:00:08") {
		t.Errorf("after ↓↓:\n%s", strings.Join(lines, "\n"))
	}
	m = keys(m, "enter")
	if m.detail == nil {
		t.Fatal("enter did not open the finding")
	}
	s := screen(t, m)
	for _, want := range []string{"finding · esc close · g go to 1 iostat at 04:00:08", "WARN io.saturated", "sdb 98% busy for 3 s, w_await 250 ms",
		"evidence", "not available here"} {
		if !strings.Contains(s, want) {
			t.Errorf("opened finding lacks %q:\n%s", want, s)
		}
	}
	m = keys(m, "esc")
	if m.detail != nil || !m.strip.Focused() {
		t.Fatal("esc should close the finding and leave the strip focused")
	}
	m = keys(m, "esc")
	if m.strip.Focused() || !strings.Contains(screen(t, m), "┏━ 1 iostat") {
		t.Error("esc should give the keys back to the panes")
	}
	m = keys(m, "0", "2")
	if m.strip.Focused() || m.panes.Focused() != 1 {
		t.Errorf("2 should focus pane 2 and leave the strip: strip %v pane %d", m.strip.Focused(), m.panes.Focused())
	}
	m = keys(m, "0", "tab")
	if m.strip.Focused() || m.panes.Focused() != 0 {
		t.Errorf("tab should focus the next pane and leave the strip: strip %v pane %d", m.strip.Focused(), m.panes.Focused())
	}
}

// The selection stays on its finding when a worse one arrives above it, and
// the window scrolls to keep it in sight.
func TestStripSelectionFollowsItsFinding(t *testing.T) {
	m := update(NewLive(testOptions()), tea.WindowSizeMsg{Width: 100, Height: 24}, EventsMsg(fixtureSession())) // a strip of 3 lines
	m = keys(m, "0", "down")
	before := m.strip.Selected()
	m = update(m, EventsMsg{
		cond(21, "kernel.oom_kill", "kernel.oom_kill a", "", event.Critical, 0, "a killed"),
		cond(22, "kernel.oom_kill", "kernel.oom_kill b", "", event.Critical, 0, "b killed"),
	})
	if m.strip.Selected() != before {
		t.Fatalf("the selection moved to %+v", m.strip.Selected())
	}
	lines := stripLines(t, m)
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "▶WARN 04:00:08") || !strings.Contains(lines[2], "+2 above, 0 below") {
		t.Errorf("strip:\n%s", strings.Join(lines, "\n"))
	}
}

// An opened finding shows its whole summary (wrapped, not cut at the
// edge), its data as a table in the order of its JSON form, and its
// evidence as read for it, the row at its time marked; ↓ scrolls what does
// not fit.
func TestOpenedFindingShowsDataAndEvidence(t *testing.T) {
	o := findingOptions()
	var asked []time.Time
	read := o.Evidence
	o.Evidence = func(first, last event.Event) (Evidence, error) {
		asked = append(asked, first.Time, last.Time)
		return read(first, last)
	}
	long := strings.Repeat("word ", 30) + "END"
	evs := append(findingSession(), cond(20, "disk.filling", "disk.filling /var", "", event.Warn, 0, long))
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 40}, EventsMsg(evs))
	m = keys(m, "0")
	var cmd tea.Cmd
	next, cmd := m.Update(nav("enter"))
	m = next.(Model)
	if s := screen(t, m); !strings.Contains(s, "reading the recording…") {
		t.Errorf("evidence not yet read should say so:\n%s", s)
	}
	m = runCmd(m, cmd)
	if len(asked) != 2 || !asked[0].Equal(t0.Add(8*time.Second)) || !asked[1].Equal(t0.Add(15*time.Second)) {
		t.Errorf("evidence asked for %v, want the raise at 04:00:08 and the latest at 04:00:15", asked)
	}
	s := screen(t, m)
	for _, want := range []string{
		"CRIT io.saturated · iostat · raised 04:00:08 · ×10, last at 04:00:15",
		"device    sdb", "await_ms  250.3", "aqu_sz    42.1", "util_pct  99.8", "seconds   10",
		"evidence · iostat samples of sdb",
		"▶ 04:00:08.000",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("opened finding lacks %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "device") > strings.Index(s, "seconds") {
		t.Errorf("data not in its JSON order:\n%s", s)
	}

	// The long summary, opened: every word, over several lines.
	m = keys(m, "esc", "down", "enter")
	m = runCmd(m, nil)
	s = screen(t, m)
	if box := s[strings.Index(s, "┏"):]; strings.Count(box, "word") != 30 || !strings.Contains(box, "END") {
		t.Errorf("the whole summary should show:\n%s", s)
	}
}

// Evidence that cannot be read says why; a late answer for a finding no
// longer open is dropped.
func TestOpenedFindingEvidenceErrorsAndLateAnswers(t *testing.T) {
	o := testOptions()
	o.Evidence = func(first, last event.Event) (Evidence, error) {
		return Evidence{Note: "recording is off (--no-record)"}, errors.New("no recording to read")
	}
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg(fixtureSession()))
	m = keys(m, "0")
	next, first := m.Update(nav("enter"))
	m = next.(Model)
	m = keys(m, "esc", "down")
	next, second := m.Update(nav("enter"))
	m = next.(Model)
	m = runCmd(m, first) // the first finding's, now stale
	if s := screen(t, m); !strings.Contains(s, "reading the recording…") {
		t.Errorf("a stale answer was shown:\n%s", s)
	}
	m = runCmd(m, second)
	s := screen(t, m)
	if !strings.Contains(s, "recording is off (--no-record)") || !strings.Contains(s, "no recording to read") {
		t.Errorf("why there is no evidence:\n%s", s)
	}
}

// g in an opened finding, live: the view freezes, the finding's pane is
// focused and shows the finding's moment (the signals pane selects the row
// there).
func TestOpenedFindingGoesToItsPaneLive(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"iostat", "signals"}
	evs := append(fixtureSession(), signalsSession()[1:]...)
	evs = append(evs, event.New(t0.Add(4003*time.Millisecond), "signals", &event.Finding{Finding: "signal.burst", Severity: event.Warn,
		Key: "signal.burst 812 SIGHUP", Summary: "2× SIGHUP to 812 (gimli) within 3 ms, from 4410 (logrotate)"}))
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 30}, EventsMsg(evs))
	m = keys(m, "0", "down", "down", "enter")
	if m.detail == nil || m.detail.probe != "signals" {
		t.Fatalf("opened %+v", m.detail)
	}
	if s := screen(t, m); !strings.Contains(s, "g go to 2 signals at 04:00:04") {
		t.Errorf("title:\n%s", s)
	}
	m = keys(m, "g")
	if m.detail != nil || m.strip.Focused() || !m.freeze.Frozen() || m.panes.Focused() != 1 {
		t.Fatalf("after g: detail %v strip %v frozen %v pane %d", m.detail != nil, m.strip.Focused(), m.freeze.Frozen(), m.panes.Focused())
	}
	sp := m.panes.slots[1].pane.(signalsPane)
	if i := sp.selected(); i < 0 || !sp.rows[i].at.Equal(t0.Add(4003*time.Millisecond)) || sp.rows[i].what != "SIGHUP" {
		t.Errorf("the signals pane should select the burst's second SIGHUP, selected %d", i)
	}
	s := screen(t, m)
	if !strings.Contains(s, "FROZEN") || !strings.Contains(s, "▶ 812 gimli") {
		t.Errorf("frozen at the moment, the row's process named:\n%s", s)
	}
	// Live events are held, not shown, until p.
	m = update(m, EventsMsg{event.New(t0.Add(30*time.Second), "signals", &schema.Signal{PID: 77, TID: 77, Comm: "late", Signal: "SIGTERM"})})
	if strings.Contains(screen(t, m), "late") {
		t.Error("a frozen view showed a new event")
	}
}

// g in an opened finding, in a replay: it seeks to the finding's moment
// and pauses there.
func TestOpenedFindingSeeksInReplay(t *testing.T) {
	evs := findingSession()
	src := newFakeSource(evs)
	m := NewReplay(findingOptions(), src, findingsOf(evs))
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24}, replayInitMsg{})
	m = keys(m, "end", "0", "enter")
	m = keys(m, "g")
	if !src.Position().Equal(t0.Add(8*time.Second)) || !src.Paused() {
		t.Errorf("position %s paused %v, want 04:00:08 paused", src.Position().Format("15:04:05"), src.Paused())
	}
	if m.detail != nil || m.strip.Focused() || m.panes.Focused() != 0 {
		t.Errorf("after g: detail %v strip %v pane %d", m.detail != nil, m.strip.Focused(), m.panes.Focused())
	}
	// At 04:00:08 only the raise has happened: the strip shows it, warn.
	if lines := stripLines(t, m); len(lines) != 1 || !strings.HasPrefix(lines[0], "▌WARN 04:00:08") {
		t.Errorf("strip at 04:00:08:\n%s", strings.Join(lines, "\n"))
	}
}

// A finding's data, whatever its shape: a struct's fields in order, a list
// of objects a row each, nested values inline in words; strings sanitized.
func TestFindingDataRows(t *testing.T) {
	type sender struct {
		PID  int    `json:"pid"`
		Comm string `json:"comm"`
	}
	type burst struct {
		PID     int       `json:"pid"`
		Comm    string    `json:"comm"`
		GapsMs  []float64 `json:"gaps_ms"`
		Senders []sender  `json:"senders"`
		Core    *bool     `json:"core"`
	}
	got := dataRows(burst{PID: 812, Comm: "gim\x1bli", GapsMs: []float64{3, 1.5}, Senders: []sender{{4410, "logrotate"}, {1, "init"}}})
	want := [][2]string{{"pid", "812"}, {"comm", `gim\x1bli`}, {"gaps_ms", "3, 1.5"}, {"senders 1", "pid 4410, comm logrotate"},
		{"senders 2", "pid 1, comm init"}, {"core", "—"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows %q\nwant %q", got, want)
	}
	// Read back from a file, data is a map: rows in key order.
	got = dataRows(map[string]any{"mount": "/var", "writers": []any{map[string]any{"pid": 9.0, "files": []any{map[string]any{"path": "/var/log/x"}}}}})
	want = [][2]string{{"mount", "/var"}, {"writers 1", "files (path /var/log/x), pid 9"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows %q\nwant %q", got, want)
	}
	if dataRows(nil) != nil || fmt.Sprint(dataRows("just text")) != "[[data just text]]" {
		t.Errorf("nil or a scalar: %q %q", dataRows(nil), dataRows("just text"))
	}
}

// The opened finding fits any terminal the UI draws on.
func TestOpenedFindingFitsAnySize(t *testing.T) {
	for _, sz := range [][2]int{{40, 10}, {80, 24}, {120, 40}, {200, 60}} {
		m := liveFindings(sz[0], sz[1])
		m = keys(m, "0")
		next, cmd := m.Update(nav("enter"))
		m = runCmd(next.(Model), cmd)
		m = keys(m, "pgdown", "pgdown", "down")
		s := screen(t, m)
		if n := strings.Count(s, "\n") + 1; n != sz[1] {
			t.Errorf("%dx%d: %d lines", sz[0], sz[1], n)
		}
		if w := ansi.StringWidth(strings.Split(s, "\n")[3]); w > sz[0] {
			t.Errorf("%dx%d: a line %d wide", sz[0], sz[1], w)
		}
	}
}
