package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/probes"
	"github.com/stakeout/stakeout/sessions"
)

// writeSaturatedSession records 30 s of iostat samples in which sdb is
// saturated from 04:00:10 to 04:00:22, through the real session writer. It
// holds no findings: the replay must get them from today's detectors.
func writeSaturatedSession(t *testing.T) string {
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
	for s := 1; s <= 30; s++ {
		sdb := probes.DeviceIO{Device: "sdb", WPerS: 40, WKBPerS: 320, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 10 && s <= 22 {
			sdb = probes.DeviceIO{Device: "sdb", WPerS: 850, WKBPerS: 110800, WAwaitMs: 250, AquSz: 42, UtilPct: 99.8}
		}
		must(w.Write(event.New(at(s), "iostat", &probes.IOSample{IntervalS: 1, Devices: []probes.DeviceIO{sdb}})))
	}
	must(w.Close())
	return path
}

// TestReplayOfARecordedFile is the whole replay path end to end: a real .stk
// file, findings recomputed by the real detectors, the real sessions.Player
// as the source, and scripted keys through the real program.
func TestReplayOfARecordedFile(t *testing.T) {
	r, err := sessions.Open(writeSaturatedSession(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var finds []event.Event
	err = engine.Replay(r.Iter(time.Time{}), findings.All(findings.Config{}), func(ev event.Event) bool {
		if _, ok := event.AsFinding(ev); ok {
			finds = append(finds, ev)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(finds) == 0 {
		t.Fatal("the detectors found nothing in a saturated recording")
	}
	first := finds[0].Time
	dropFindings := func(ev event.Event) bool { _, ok := event.AsFinding(ev); return ok }
	player := sessions.NewPlayer(r, 2*time.Minute, dropFindings)
	opts := testOptions()
	opts.Probes = []string{"iostat"}
	m := NewReplay(opts, player, finds)

	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
	tm.Send(press("space")) // pause, so the position only moves by keys
	tm.Type("n")            // first finding
	tm.Type("q")
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)

	if !player.Position().Equal(first) {
		t.Errorf("n went to %s, want the first finding at %s", player.Position().Format("15:04:05"), first.Format("15:04:05"))
	}
	view := screen(t, final)
	for _, want := range []string{"io.saturated", "sdb", "REPLAY ⏸ paused"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	golden.RequireEqual(t, view)
}
