package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// writeBacklogSession records ten minutes of a session that began at t0
// (iostat every second, sdb saturated from 04:00:10 to 04:00:22) whose
// kernel log backlog starts three hours before it: a line every ten
// minutes from 01:00:00, written after the first samples, as the kmsg
// probe writes it.
func writeBacklogSession(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db-7.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7.prod", Kernel: "6.18.0", Started: t0,
		Interval: time.Second}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Write(event.New(t0, "iostat", &event.ProbeStatus{Status: event.StatusOK})))
	must(w.Write(event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK})))
	sample := func(s int) {
		sdb := schema.DeviceIO{Device: "sdb", WPerS: 40, WKBPerS: 320, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 10 && s <= 22 {
			sdb = schema.DeviceIO{Device: "sdb", WPerS: 850, WKBPerS: 110800, WAwaitMs: 250, AquSz: 42, UtilPct: 99.8}
		}
		must(w.Write(event.New(at(s), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{sdb}})))
	}
	sample(1)
	for m := 180; m > 0; m -= 10 {
		must(w.Write(event.New(t0.Add(-time.Duration(m)*time.Minute), "kmsg", &schema.Kmsg{Level: "info", Priority: 6,
			Facility: "kern", Text: "backlog line from " + t0.Add(-time.Duration(m)*time.Minute).Format("15:04"), Backlog: true})))
	}
	for s := 2; s <= 600; s++ {
		sample(s)
	}
	must(w.Close())
	return path
}

// TestReplayOpensWhereTheSessionBegan: a recording whose kernel log backlog
// starts three hours before the session opens at the session's start with
// the panes full (not "waiting for the first event…" for three hours of
// play), a loading line stands in for the timeline until the findings
// come, and the backlog is there by seeking back (Home).
func TestReplayOpensWhereTheSessionBegan(t *testing.T) {
	r, err := sessions.Open(writeBacklogSession(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if lo, _ := r.PlausibleSpan(); !lo.Equal(t0.Add(-3 * time.Hour)) {
		t.Fatalf("the span starts at %v, want the backlog's 01:00:00", lo)
	}
	player := sessions.NewPlayer(r, 2*time.Minute, func(ev event.Event) bool { return ev.Kind == event.KindFinding })
	// What cmd/stakeout's replay does: seek to where the session began.
	player.Seek(r.SessionStart())
	opts := testOptions()
	opts.Probes = nil
	m := NewReplayLoading(opts, player)
	m = update(m, tea.WindowSizeMsg{Width: 100, Height: 30}, replayInitMsg{})
	for player.Pending() {
		m = update(m, replayMoreMsg{gen: m.replay.more})
	}
	m = update(m, ReplayProgressMsg{Done: 0.42})
	if !player.Position().Equal(t0) {
		t.Errorf("opened at %v, want the session's start %v", player.Position(), t0)
	}
	v := screen(t, m)
	for _, want := range []string{"⧗ loading reading the recording for its findings… 42%", "1 iostat · ok", "2 kmsg · ok", "04:00:00"} {
		if !strings.Contains(v, want) {
			t.Errorf("opening screen lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "waiting for the first event") {
		t.Errorf("a pane waits at the session's start:\n%s", v)
	}
	// A second of play later, the first sample is on screen.
	m = update(m, tickMsg{at: time.Unix(0, 0)}, tickMsg{at: time.Unix(1, 0)})
	if v := screen(t, m); !strings.Contains(v, "sdb") {
		t.Errorf("a second in, no sample:\n%s", v)
	}

	// The findings come: the timeline replaces the loading line and n goes
	// to the saturation.
	var finds []event.Event
	err = engine.Replay(r.Iter(time.Time{}), findings.All(findings.Config{}), func(ev event.Event) bool {
		if ev.Kind == event.KindFinding {
			finds = append(finds, ev)
		}
		return true
	})
	if err != nil || len(finds) == 0 {
		t.Fatalf("findings %d, %v", len(finds), err)
	}
	m = update(m, ReplayLoadedMsg{Findings: finds, Probes: []string{"iostat", "kmsg"}}, press("space"), press("n"))
	v = screen(t, m)
	if strings.Contains(v, "⧗ loading") || !strings.Contains(v, "01:00:00 ") || !player.Position().Equal(finds[0].Time) {
		t.Errorf("after loading, n went to %v (first finding %v):\n%s", player.Position(), finds[0].Time, v)
	}
	// Home seeks back to the backlog's start, three hours before.
	m = update(m, press("home"))
	for player.Pending() {
		m = update(m, replayMoreMsg{gen: m.replay.more})
	}
	if !player.Position().Equal(t0.Add(-3 * time.Hour)) {
		t.Errorf("home went to %v, want the backlog's start", player.Position())
	}
	if v := screen(t, m); !strings.Contains(v, "backlog line from 01:00") {
		t.Errorf("the backlog's first line is not shown at its start:\n%s", v)
	}
}
