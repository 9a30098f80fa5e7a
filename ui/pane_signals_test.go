package ui

import (
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
