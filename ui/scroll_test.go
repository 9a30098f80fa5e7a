package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// longSignals is the signals story followed by 40 s of the 1 Hz
// heartbeat, so the HUPs have scrolled off an 80×24 screen.
func longSignals() []event.Event {
	evs := signalsSession()
	root := 0
	for s := 6; s < 46; s++ {
		evs = append(evs, event.New(t0.Add(time.Duration(s)*time.Second), "signals", &schema.Signal{PID: 812, TID: 812,
			Comm: "gimli", Signal: "SIGUSR1", Signo: 10, Code: "SI_USER", SenderPID: 700, SenderUID: &root, SenderComm: "heartbeat"}))
	}
	return evs
}

func signalsModel(w, h int, evs []event.Event) Model {
	o := testOptions()
	o.Probes = []string{"signals"}
	o.Now = func() time.Time { return t0.Add(46 * time.Second) }
	return update(NewLive(o), tea.WindowSizeMsg{Width: w, Height: h}, EventsMsg(evs))
}

// TestGoldenSignalsSearched drives the real program: search the scrolled-off
// HUPs with /, step to the older one with n, then let more signals come:
// the view stays on the selected row. At 80×24 and 120×40 (the HUPs
// scroll off both).
func TestGoldenSignalsSearched(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			evs := longSignals()
			if size[1] > 24 {
				evs = append(evs, moreHeartbeats(46, 70)...)
			}
			tm := teatest.NewTestModel(t, signalsModel(size[0], size[1], evs),
				teatest.WithInitialTermSize(size[0], size[1]),
				teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
			tm.Type("/hup")
			tm.Send(press("enter"))
			tm.Type("n")
			root := 0
			tm.Send(EventsMsg{event.New(t0.Add(71*time.Second), "signals", &schema.Signal{PID: 812, TID: 812, Comm: "gimli",
				Signal: "SIGTERM", Signo: 15, Code: "SI_USER", SenderPID: 1, SenderUID: &root, SenderComm: "systemd"})})
			tm.Type("q")
			final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
			s := screen(t, final)
			if !strings.Contains(s, "04:00:04.003 +3.0ms  SIGHUP") || strings.Contains(s, "systemd") {
				t.Errorf("the view should stay on the second HUP while a SIGTERM comes in:\n%s", s)
			}
			golden.RequireEqual(t, s)
		})
	}
}

// moreHeartbeats is the 1 Hz heartbeat from second a to b.
func moreHeartbeats(a, b int) []event.Event {
	root := 0
	var evs []event.Event
	for s := a; s < b; s++ {
		evs = append(evs, event.New(t0.Add(time.Duration(s)*time.Second), "signals", &schema.Signal{PID: 812, TID: 812,
			Comm: "gimli", Signal: "SIGUSR1", Signo: 10, Code: "SI_USER", SenderPID: 700, SenderUID: &root, SenderComm: "heartbeat"}))
	}
	return evs
}

func TestTimelineFollowsPinsAndFollowsAgain(t *testing.T) {
	m := signalsModel(80, 24, longSignals())
	newest := "04:00:45.000"
	if s := screen(t, m); !strings.Contains(s, newest) || strings.Contains(s, "logrotate") {
		t.Fatalf("following, the newest rows should show:\n%s", s)
	}
	m = typeKeys(m, "home")
	if s := screen(t, m); !strings.Contains(s, "trace    812 gimli attached") || strings.Contains(s, newest) {
		t.Fatalf("home should show the oldest rows:\n%s", s)
	}
	m = typeKeys(m, "pgdown")
	if s := screen(t, m); strings.Contains(s, "trace    812 gimli attached") {
		t.Fatalf("pgdown should leave the first page:\n%s", s)
	}
	m = typeKeys(m, "F")
	if s := screen(t, m); !strings.Contains(s, newest) || strings.Contains(s, "newer below") {
		t.Fatalf("F should follow the newest rows again:\n%s", s)
	}
	// One row up from following selects the newest, pinned: a new row
	// comes in below it.
	m = typeKeys(m, "up", "up")
	m = update(m, EventsMsg{event.New(t0.Add(46*time.Second), "signals", &schema.Signal{PID: 812, TID: 812, Comm: "gimli", Signal: "SIGTERM"})})
	if s := screen(t, m); !strings.Contains(s, "2 newer below") {
		t.Fatalf("pinned two rows up, a new row should be counted below:\n%s", s)
	}
	m = typeKeys(m, "esc")
	if s := screen(t, m); !strings.Contains(s, "SIGTERM  812") {
		t.Fatalf("esc with no search should follow again:\n%s", s)
	}
}

func TestTimelineSearch(t *testing.T) {
	m := signalsModel(80, 24, longSignals())
	m = typeKeys(m, "/", "l", "o", "g", "r", "o", "t", "a", "t", "e", "enter")
	s := screen(t, m)
	if !strings.Contains(s, "/logrotate 3 match(es)") || !strings.Contains(s, "04:00:04.012 +9.0ms  SIGHUP") {
		t.Fatalf("search should jump to the newest match and count them:\n%s", s)
	}
	m = typeKeys(m, "n", "n", "n")
	if s := screen(t, m); !strings.Contains(s, `no older match for "logrotate"`) {
		t.Fatalf("past the oldest match:\n%s", s)
	}
	m = typeKeys(m, "N")
	if got := m.panes.slots[0].pane.(signalsPane).tl; got.note != "" || got.cursor != 5 {
		t.Fatalf("N should select the newer match (seq 5), got %+v", got)
	}
	// Smart case: a capital makes the search exact.
	m = typeKeys(m, "/", "L", "O", "G", "enter")
	if s := screen(t, m); !strings.Contains(s, "/LOG 0 match(es)") {
		t.Fatalf("LOG should match no lower-case logrotate:\n%s", s)
	}
	// While typing, q and digits are text, not quit and focus.
	m = typeKeys(m, "/", "q", "1")
	if !m.panes.Editing() {
		t.Fatal("the search line should still be open")
	}
	m = typeKeys(m, "esc", "esc")
	if m.panes.Editing() || m.panes.slots[0].pane.(signalsPane).tl.query != "" {
		t.Fatal("esc should close the line, then clear the search")
	}
}

func TestHighlightMarksEveryMatch(t *testing.T) {
	st := testEnv().st
	s := highlight("SIGHUP from hup-sender", "hup", plainStyle, st.Match)
	if strings.Count(s, st.Match.Render("HUP")) != 1 || strings.Count(s, st.Match.Render("hup")) != 1 {
		t.Errorf("want both matches marked: %q", s)
	}
	if got := matchAt("naïve NAÏVE", "naïve"); got != 0 {
		t.Errorf("matchAt = %d", got)
	}
}

// TestReplayKeysAndPaneKeys: in a replay, n/N and Home/End are the
// replay's until the focused timeline searches or has a row selected.
func TestReplayKeysAndPaneKeys(t *testing.T) {
	evs := longSignals()
	var fs []event.Event
	for _, ev := range evs {
		if s, ok := event.As[schema.Signal](ev); ok && s.Signal == "SIGHUP" {
			fs = append(fs, event.New(ev.Time, "signals", &event.Finding{Finding: "signal.burst", Severity: event.Warn, Summary: "two HUPs"}))
			break
		}
	}
	src := newFakeSource(evs)
	o := testOptions()
	o.Probes = []string{"signals"}
	m := update(NewReplay(o, src, fs), tea.WindowSizeMsg{Width: 80, Height: 24}, replayInitMsg{})
	m = typeKeys(m, "end")
	if !src.Position().Equal(evs[len(evs)-1].Time) {
		t.Fatalf("end should move the replay to its end, at %s", src.Position())
	}
	m = typeKeys(m, "/", "u", "s", "r", "enter")
	seeks := len(src.seeks)
	m = typeKeys(m, "n", "home")
	if len(src.seeks) != seeks {
		t.Fatal("while the pane searches, n and home are the pane's")
	}
	if p := m.panes.slots[0].pane.(signalsPane); !p.tl.pinned || p.tl.cursor != p.first {
		t.Fatalf("home should select the oldest row: %+v", p.tl)
	}
	m = typeKeys(m, "esc", "esc", "N")
	if len(src.seeks) == seeks {
		t.Fatal("with no search and nothing selected, N is the replay's previous finding")
	}
}

// TestMouseFocusesAndScrolls: a click focuses the pane under it, the wheel
// scrolls the timeline under it.
func TestMouseFocusesAndScrolls(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"signals", "kmsg"}
	evs := append(longSignals(), event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "kmsg", &schema.Kmsg{Priority: 6, Text: "hello"}))
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 30}, EventsMsg(evs))
	var kmsgCell cell
	for _, c := range m.panes.cells() {
		if m.panes.slots[c.pane].probe == "kmsg" {
			kmsgCell = c
		}
	}
	top := stripHeight(m.h)
	m = update(m, tea.MouseClickMsg{X: kmsgCell.x + 2, Y: top + kmsgCell.y + 1, Button: tea.MouseLeft})
	if m.panes.slots[m.panes.Focused()].probe != "kmsg" {
		t.Fatal("a click should focus the kmsg pane")
	}
	m = update(m, tea.MouseWheelMsg{X: 3, Y: top + 2, Button: tea.MouseWheelUp})
	if p := m.panes.slots[0].pane.(signalsPane); !p.tl.pinned {
		t.Fatal("the wheel should scroll the signals pane under it")
	}
	if !strings.Contains(screen(t, m), "newer below") {
		t.Fatalf("scrolled back, the pane should say so:\n%s", screen(t, m))
	}
	m = update(m, tea.MouseWheelMsg{X: 3, Y: top + 2, Button: tea.MouseWheelDown})
	if p := m.panes.slots[0].pane.(signalsPane); p.tl.pinned {
		t.Fatal("wheeling back down to the newest row should follow again")
	}
}

// TestKmsgSearchAndScroll: the kernel log scrolls and searches like the
// other timelines; the kernel events listed above it stay put.
func TestKmsgSearchAndScroll(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"kmsg"}
	evs := kernelSession()
	for i := range 60 {
		evs = append(evs, event.New(t0.Add(time.Duration(21+i)*time.Second), "kmsg", &schema.Kmsg{Priority: 6, Text: "audit: noise"}))
	}
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(evs))
	if s := screen(t, m); strings.Contains(s, "ip_tables: (C)") {
		t.Fatalf("the old line should be scrolled off:\n%s", s)
	}
	m = typeKeys(m, "/", "n", "e", "t", "f", "i", "l", "t", "e", "r", "enter")
	s := screen(t, m)
	if !strings.Contains(s, "ip_tables: (C) 2000-2006 Netfilter Core Team") || !strings.Contains(s, "/netfilter 1 match(es)") ||
		!strings.Contains(s, "kernel events (") {
		t.Fatalf("the search should bring the Netfilter line into view, kernel events still listed:\n%s", s)
	}
}
