package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/themes"
)

// signalsSession is the story: a supervisor with a 1 Hz USR1 heartbeat gets
// logrotate's two HUPs 3 ms apart; it re-executes itself, and a third HUP
// lands 2 ms after the exec. A child is killed by SIGKILL.
func signalsSession() []event.Event {
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	root := 0
	sig := func(at, pid int, name string, signo, sender int, scomm string) event.Event {
		return event.New(ms(at), "signals", &schema.Signal{PID: pid, TID: pid, Comm: "gimli", Signal: name, Signo: signo,
			Code: "SI_USER", SenderPID: sender, SenderUID: &root, SenderComm: scomm})
	}
	evs := []event.Event{
		event.New(t0, "signals", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(ms(1), "signals", &schema.Trace{PID: 812, Comm: "gimli", State: schema.TraceAttached, Threads: 3}),
	}
	for s := 1; s <= 3; s++ {
		evs = append(evs, sig(s*1000, 812, "SIGUSR1", 10, 700, "heartbeat"))
	}
	evs = append(evs,
		sig(4000, 812, "SIGHUP", 1, 4410, "logrotate"),
		sig(4003, 812, "SIGHUP", 1, 4410, "logrotate"),
		event.New(ms(4010), "signals", &schema.Exec{PID: 812, OldComm: "gimli", Comm: "gimli", Filename: "/usr/sbin/gimli"}),
		sig(4012, 812, "SIGHUP", 1, 4410, "logrotate"),
		event.New(ms(4500), "signals", &schema.Fork{PID: 812, Comm: "gimli", ChildPID: 901, How: "fork"}),
		event.New(ms(4600), "signals", &schema.Signal{PID: 812, TID: 813, Comm: "gimli", Signal: "SIGCHLD", Signo: 17,
			Code: "CLD_KILLED", ChildPID: 901, Status: "killed by SIGKILL"}),
		event.New(ms(4600), "signals", &schema.Exit{PID: 901, Comm: "gimli", Status: "killed by SIGKILL", Signal: "SIGKILL"}),
		sig(5000, 812, "SIGUSR1", 10, 4411, "exited"),
	)
	return evs
}

func TestGoldenSignals(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"signals"}
	o.Now = func() time.Time { return t0.Add(6 * time.Second) }
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg(signalsSession()))
	golden.RequireEqual(t, screen(t, m))
}

func TestSignalsPaneMarksAndSanitizes(t *testing.T) {
	st := themes.Must("dark").Styles
	p := newSignalsPane(paneEnv{st: &st, loc: time.UTC})
	for _, ev := range signalsSession() {
		p = p.Apply(ev)
	}
	sp := p.(signalsPane)
	marks := map[string]sigMark{}
	for _, r := range sp.rows {
		marks[r.at.Format("05.000")+" "+r.what] = r.mark
	}
	for k, want := range map[string]sigMark{"04.000 SIGHUP": markNone, "04.003 SIGHUP": markBurst,
		"04.012 SIGHUP": markRace, "02.000 SIGUSR1": markNone, "04.600 SIGCHLD": markNone} {
		if marks[k] != want {
			t.Errorf("%s marked %d, want %d", k, marks[k], want)
		}
	}
	if sp.rows[len(sp.rows)-1].delta != "+400ms" {
		t.Errorf("Δ %q", sp.rows[len(sp.rows)-1].delta)
	}
	p = p.Apply(event.New(t0, "signals", &schema.Signal{PID: 1, TID: 1, Comm: "evil\x1b]0;pwned\x07", Signal: "SIGHUP"}))
	p.SetSize(80, 10)
	view := p.View()
	if strings.Contains(view, "\x1b]0") || !strings.Contains(view, `evil\x1b]0;pwned\x07`) {
		t.Errorf("comm not sanitized: %q", view)
	}
}

func TestSignalsPaneFitsAnySize(t *testing.T) {
	st := themes.Must("dark").Styles
	p := newSignalsPane(paneEnv{st: &st, loc: time.UTC})
	for _, ev := range signalsSession() {
		p = p.Apply(ev)
	}
	for _, sz := range [][2]int{{1, 1}, {10, 2}, {38, 8}, {80, 5}, {200, 60}} {
		p.SetSize(sz[0], sz[1])
		v := p.View()
		if n := strings.Count(v, "\n") + 1; n > sz[1] {
			t.Errorf("%dx%d: %d lines", sz[0], sz[1], n)
		}
	}
}

// ↑ in the signals pane selects the newest row; a then asks to attach
// ptrace to its process (the wiring's Trace, off the UI goroutine), d to
// detach; a failure is said on the status line. Without a selection, a
// still acknowledges the pinned criticals.
func TestSignalsPaneAttachAndDetachSelected(t *testing.T) {
	type call struct {
		pid    int
		attach bool
	}
	var calls []call
	o := testOptions()
	o.Probes = []string{"signals"}
	o.Now = func() time.Time { return t0.Add(6 * time.Second) }
	o.Trace = func(pid int, attach bool) error {
		calls = append(calls, call{pid, attach})
		if !attach {
			return errors.New("pid 812 is not traced by stakeout")
		}
		return nil
	}
	evs := append(signalsSession(), event.New(t0.Add(5*time.Second), "x",
		&event.Finding{Finding: "kernel.oom_kill", Severity: event.Critical, Key: "k", Summary: "killed"}))
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg(evs))
	if m.strip.Pinned() != 1 {
		t.Fatalf("pinned %d", m.strip.Pinned())
	}
	ask := func(m Model, k string) Model {
		next, cmd := m.Update(nav(k))
		m = next.(Model)
		if cmd == nil {
			t.Fatalf("%s gave no command", k)
		}
		next, cmd = m.Update(cmd()) // the pane's ask
		return runCmd(next.(Model), cmd)
	}
	m = keys(m, "up")
	s := screen(t, m)
	if !strings.Contains(s, "▶ 812 gimli · a/d attach/detach · enter inspect · 0 newer below · F follow") {
		t.Fatalf("selection line:\n%s", s)
	}
	m = ask(m, "a")
	if m.strip.Pinned() != 1 {
		t.Error("a on a selected process acknowledged the criticals")
	}
	m = keys(m, "up") // the exit of 901
	m = ask(m, "d")
	if len(calls) != 2 || calls[0] != (call{812, true}) || calls[1] != (call{901, false}) {
		t.Errorf("calls %+v", calls)
	}
	if s := screen(t, m); !strings.Contains(s, "detach: pid 812 is not traced by stakeout") {
		t.Errorf("the failure should show:\n%s", s)
	}
	m = keys(m, "down", "down", "down") // at the newest it stays
	if sp := m.panes.slots[0].pane.(signalsPane); sp.rows[sp.selected()].what != "SIGUSR1" {
		t.Errorf("selected %+v", sp.rows[sp.selected()])
	}
	m = keys(m, "esc", "a")
	if m.strip.Pinned() != 0 {
		t.Error("without a selection, a should acknowledge the criticals")
	}
}

// A signal delivered to a process attached from the pane, already shown
// sent, is shown once more, marked delivered, and neither counted nor
// taken for a burst.
func TestSignalsPaneShowsDeliveriesOnce(t *testing.T) {
	st := themes.Must("dark").Styles
	p := newSignalsPane(paneEnv{st: &st, loc: time.UTC})
	sig := func(ms int, source string) event.Event {
		return event.New(t0.Add(time.Duration(ms)*time.Millisecond), "signals", &schema.Signal{PID: 812, TID: 812, Comm: "gimli",
			Signal: "SIGHUP", Code: "SI_USER", SenderPID: 4410, SenderComm: "logrotate", Source: source, Result: map[string]string{"tracefs": "delivered"}[source]})
	}
	for _, ev := range []event.Event{sig(0, "tracefs"), sig(1, schema.SourcePtrace)} {
		p = p.Apply(ev)
	}
	sp := p.(signalsPane)
	if len(sp.rows) != 2 || sp.rows[1].mark != markNone || !strings.HasSuffix(sp.rows[1].from, "(delivered)") {
		t.Errorf("rows %+v", sp.rows)
	}
	if n := sp.procs[812].counts["SIGHUP"]; n != 1 {
		t.Errorf("counted %d SIGHUPs, want 1", n)
	}
}

// One selection serves the signals pane: the row a search (or PgUp, or
// Home) selects is the row a and d act on, and the footer names its
// process; esc clears the search first, then lets the row go, after which
// a acknowledges again.
func TestSignalsPaneSearchSelectsWhatAAttaches(t *testing.T) {
	var pids []int
	o := testOptions()
	o.Probes = []string{"signals"}
	o.Now = func() time.Time { return t0.Add(6 * time.Second) }
	o.Trace = func(pid int, attach bool) error { pids = append(pids, pid); return nil }
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg(signalsSession()))
	m = typeKeys(m, "/", "k", "i", "l", "l", "e", "d", "enter") // the exit of 901, killed by SIGKILL
	sp := m.panes.slots[0].pane.(signalsPane)
	if i := sp.selected(); i < 0 || sp.rows[i].what != "exit" || sp.rows[i].pid != 901 {
		t.Fatalf("the search should select the exit of 901, selected %d", i)
	}
	if s := screen(t, m); !strings.Contains(s, "▶ 901 gimli") {
		t.Errorf("the footer should name the selected row's process:\n%s", s)
	}
	next, cmd := m.Update(press("a"))
	m = next.(Model)
	if cmd == nil {
		t.Fatal("a on the searched row asked nothing")
	}
	next, cmd = m.Update(cmd()) // the pane's ask; the root runs Trace
	m = runCmd(next.(Model), cmd)
	if len(pids) != 1 || pids[0] != 901 {
		t.Errorf("a attached %v, want the searched row's 901", pids)
	}
	m = typeKeys(m, "esc")
	if sp := m.panes.slots[0].pane.(signalsPane); sp.tl.query != "" || sp.selected() < 0 {
		t.Error("the first esc should clear the search and keep the row")
	}
	m = typeKeys(m, "esc")
	if sp := m.panes.slots[0].pane.(signalsPane); sp.selected() >= 0 {
		t.Error("the second esc should let the row go")
	}
}

// The help screen lists a and d under the signals pane only where they
// work (live, with Options.Trace).
func TestHelpListsAttachOnlyWhenItWorks(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"signals"}
	m := typeKeys(update(NewLive(o), tea.WindowSizeMsg{Width: 120, Height: 40}, EventsMsg(signalsSession())), "?")
	if body := m.helpBody(); strings.Contains(body, "attach ptrace") {
		t.Errorf("without Trace, no a/d:\n%s", body)
	}
	o.Trace = func(int, bool) error { return nil }
	m = typeKeys(update(NewLive(o), tea.WindowSizeMsg{Width: 120, Height: 40}, EventsMsg(signalsSession())), "?")
	if body := m.helpBody(); !strings.Contains(body, "1 signals") || !strings.Contains(body, "attach ptrace to the selected row's process") {
		t.Errorf("with Trace, a/d under 1 signals:\n%s", body)
	}
}

// TestSignalsPaneCountsTheBusiestFour: with more processes signalled than
// fit, the Σ lines under the timeline are the four busiest, busiest first
// and by pid among equals, each with its signals busiest first; the pane
// builds only those lines, not one for each of up to 256 processes on
// every frame.
func TestSignalsPaneCountsTheBusiestFour(t *testing.T) {
	st := themes.Must("dark").Styles
	p := newSignalsPane(paneEnv{st: &st, loc: time.UTC})
	// pid 1000+i gets i%7+1 SIGCHLDs and, for even i, a SIGTERM.
	at := t0
	for i := range 40 {
		for k := 0; k < i%7+1; k++ {
			at = at.Add(time.Millisecond)
			p = p.Apply(event.New(at, "signals", &schema.Signal{PID: 1000 + i, TID: 1000 + i, Comm: "sh", Signal: "SIGCHLD", Signo: 17}))
		}
		if i%2 == 0 {
			at = at.Add(time.Millisecond)
			p = p.Apply(event.New(at, "signals", &schema.Signal{PID: 1000 + i, TID: 1000 + i, Comm: "sh", Signal: "SIGTERM", Signo: 15}))
		}
	}
	p.SetSize(100, 30)
	var sigma []string
	for _, l := range strings.Split(p.View(), "\n") {
		if i := strings.Index(l, "Σ "); i >= 0 {
			sigma = append(sigma, strings.TrimRight(l[i:], " \x1b[0m"))
		}
	}
	// Totals: i%7+1, plus 1 for even i: 8 for i = 6, 20 and 34, then 7 for
	// i = 12, 13, 26 and 27, of which the lowest pid is shown.
	want := []string{
		"Σ 1006 sh  SIGCHLD×7 SIGTERM×1",
		"Σ 1020 sh  SIGCHLD×7 SIGTERM×1",
		"Σ 1034 sh  SIGCHLD×7 SIGTERM×1",
		"Σ 1012 sh  SIGCHLD×6 SIGTERM×1",
	}
	if strings.Join(sigma, "\n") != strings.Join(want, "\n") {
		t.Errorf("Σ lines:\n%s\nwant:\n%s", strings.Join(sigma, "\n"), strings.Join(want, "\n"))
	}
	sp := p.(signalsPane)
	if got := sp.countLines(2); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("countLines(2) = %q", got)
	}
	if got := sp.countLines(0); len(got) != 0 {
		t.Errorf("countLines(0) = %q", got)
	}
}
