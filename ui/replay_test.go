package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

func replayFixture(w, h int) (Model, *fakeSource) {
	evs := fixtureSession()
	src := newFakeSource(evs)
	m := NewReplay(testOptions(), src, findingsOf(evs))
	return update(m, tea.WindowSizeMsg{Width: w, Height: h}, replayInitMsg{}), src
}

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestReplayKeys(t *testing.T) {
	m, src := replayFixture(80, 24)
	if !src.Position().Equal(t0) || !strings.Contains(screen(t, m), "findings: none yet") {
		t.Fatalf("replay starts at the start with no findings shown")
	}
	steps := []struct {
		key string
		pos time.Time
	}{
		{"end", at(20)}, {"N", at(15)}, {"N", at(8)}, {"N", at(8)}, {"n", at(15)}, {"n", at(15)},
		{"home", t0}, {"right", at(1)}, {"right", at(2)}, {"left", at(1)}, {"left", t0}, {"left", t0},
	}
	for _, s := range steps {
		m = typeKeys(m, s.key)
		if !src.Position().Equal(s.pos) {
			t.Fatalf("after %s at %s, want %s", s.key, src.Position().Format("15:04:05"), s.pos.Format("15:04:05"))
		}
	}
	if m = typeKeys(m, "N"); !strings.Contains(screen(t, m), "no earlier finding") {
		t.Fatal("N past the first finding should say so")
	}
	for i, want := range []float64{2, 4, 8, 16, 32, 64, 64} {
		if m = typeKeys(m, "]"); src.Speed() != want {
			t.Fatalf("] #%d: speed %g, want %g", i+1, src.Speed(), want)
		}
	}
	for range 20 {
		m = typeKeys(m, "[")
	}
	if src.Speed() != minSpeed || !strings.Contains(screen(t, m), "0.25×") {
		t.Fatalf("speed floor: %g", src.Speed())
	}
	m = typeKeys(m, "space")
	if !src.Paused() || !strings.Contains(screen(t, m), "⏸ paused") {
		t.Fatal("space should pause")
	}
}

func TestReplayStripFollowsPosition(t *testing.T) {
	m, _ := replayFixture(80, 24)
	m = typeKeys(m, "end")
	s := screen(t, m)
	if !strings.Contains(s, "CRIT 04:00:15") || !strings.Contains(s, "WARN 04:00:08") {
		t.Fatalf("at the end both findings show:\n%s", s)
	}
	m = typeKeys(m, "N", "N") // 04:00:08
	s = screen(t, m)
	if strings.Contains(s, "CRIT") || !strings.Contains(s, "WARN 04:00:08") {
		t.Fatalf("at 04:00:08 only the warn shows:\n%s", s)
	}
}

func TestReplayTickAdvancesAndClamps(t *testing.T) {
	m, src := replayFixture(80, 24)
	m = update(m, tickMsg{at: time.Unix(100, 0)}) // first tick: no previous one, counts as 0
	m = typeKeys(m, "]")                          // 2×
	m = update(m, tickMsg{at: time.Unix(100, 5e8)})
	if want := t0.Add(time.Second); !src.Position().Equal(want) {
		t.Fatalf("0.5 s at 2× should move 1 s, at %s", src.Position())
	}
	if !strings.Contains(screen(t, m), "04:00:01") {
		t.Fatal("clock shows the replay position")
	}
	m = update(m, tickMsg{at: time.Unix(200, 0)}) // a long stall counts as at most 1 s
	if want := t0.Add(3 * time.Second); !src.Position().Equal(want) {
		t.Fatalf("late tick: at %s, want %s", src.Position(), want)
	}
	m = typeKeys(m, "space")
	m = update(m, tickMsg{at: time.Unix(201, 0)})
	if want := t0.Add(3 * time.Second); !src.Position().Equal(want) {
		t.Fatal("paused replay must not move")
	}
	m = typeKeys(m, "space")
	for i := range 40 {
		m = update(m, tickMsg{at: time.Unix(202+int64(i), 0)})
	}
	if !src.Position().Equal(src.End()) || !strings.Contains(screen(t, m), "at end") {
		t.Fatalf("replay should stop at the end, at %s", src.Position())
	}
}

func TestReplayGotoInput(t *testing.T) {
	m, src := replayFixture(80, 24)
	m = typeKeys(m, "g", "0", "4", ":", "0", "0", ":", "1", "x", "backspace", "0")
	if s := screen(t, m); !strings.Contains(s, "go to › 04:00:10") {
		t.Fatalf("input line:\n%s", s)
	}
	m = typeKeys(m, "enter")
	if !src.Position().Equal(at(10)) || m.replay.Editing() {
		t.Fatalf("goto 04:00:10 gave %s", src.Position())
	}
	m = typeKeys(m, "g", "+", "5", "s", "enter")
	if !src.Position().Equal(at(15)) {
		t.Fatalf("+5s gave %s", src.Position())
	}
	m = typeKeys(m, "g", "w", "h", "e", "n", "enter")
	if !m.replay.Editing() || !strings.Contains(screen(t, m), `bad time "when"`) {
		t.Fatalf("bad input should keep the line open with a reason:\n%s", screen(t, m))
	}
	m = typeKeys(m, "esc")
	if m.replay.Editing() || !src.Position().Equal(at(15)) {
		t.Fatal("esc cancels without moving")
	}
	m = typeKeys(m, "q")
	_ = m
}

func TestParseGoto(t *testing.T) {
	start, end, pos := t0, t0.Add(2*time.Hour), t0.Add(time.Hour)
	cases := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"04:30:00", t0.Add(30 * time.Minute), false},
		{"05:15", t0.Add(75 * time.Minute), false},
		{"+30s", pos.Add(30 * time.Second), false},
		{"-5m", pos.Add(-5 * time.Minute), false},
		{"+90", pos.Add(90 * time.Second), false},
		{"-1h30m", start, false}, // clamped
		{"+1d", time.Time{}, true},
		{"23:00:00", end, false}, // outside: clamped to the nearest edge
		{"2026-11-23T04:10:00Z", t0.Add(10 * time.Minute), false},
		{"", time.Time{}, true},
		{"soon", time.Time{}, true},
	}
	for _, c := range cases {
		got, err := parseGoto(c.in, pos, start, end, time.UTC)
		if (err != nil) != c.err || (!c.err && !got.Equal(c.want)) {
			t.Errorf("parseGoto(%q) = %s, %v; want %s err=%v", c.in, got, err, c.want, c.err)
		}
	}
	// A recording across midnight: 00:10 is the next day.
	s2 := time.Date(2026, 11, 23, 23, 50, 0, 0, time.UTC)
	got, err := parseGoto("00:10:00", s2, s2, s2.Add(time.Hour), time.UTC)
	if err != nil || !got.Equal(s2.Add(20*time.Minute)) {
		t.Fatalf("across midnight: %s %v", got, err)
	}
}
