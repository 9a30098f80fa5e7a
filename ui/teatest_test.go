package ui

import (
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// TestScriptedReplay drives the real program with keys over a fake
// recording, the way lazygit's integration tests do, and checks where the
// replay ended up and that the program quit cleanly.
func TestScriptedReplay(t *testing.T) {
	evs := fixtureSession()
	src := newFakeSource(evs)
	m := NewReplay(testOptions(), src, findingsOf(evs))
	tm := teatest.NewTestModel(t, m,
		teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))

	tm.Send(press("end"))
	tm.Type("NnN") // 04:00:15, no later finding, 04:00:08
	tm.Send(press("space"))
	tm.Type("]")
	tm.Type("g04:00:10")
	tm.Send(press("enter"))
	tm.Send(press("enter")) // zoom the focused pane
	tm.Type("?")
	tm.Type("q")

	final, ok := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if !ok {
		t.Fatal("final model is not a ui.Model")
	}
	if !src.Position().Equal(at(10)) {
		t.Errorf("position %s, want 04:00:10", src.Position().Format("15:04:05"))
	}
	// The initial load seeks to wherever the cursor is when it runs, so
	// repeats are dropped before comparing.
	var seeks []string
	for _, s := range src.seeks {
		if f := s.Format("15:04:05"); len(seeks) == 0 || seeks[len(seeks)-1] != f {
			seeks = append(seeks, f)
		}
	}
	if got := strings.Join(seeks, " "); strings.TrimPrefix(got, "04:00:00 ") != "04:00:20 04:00:15 04:00:08 04:00:10" {
		t.Errorf("seeks %s", got)
	}
	if src.Speed() != 2 || !src.Paused() {
		t.Errorf("speed %g paused %v, want 2× paused", src.Speed(), src.Paused())
	}
	if !final.panes.Zoomed() || !final.showHelp || final.replay.Editing() {
		t.Errorf("zoomed %v help %v editing %v", final.panes.Zoomed(), final.showHelp, final.replay.Editing())
	}
	if final.opts.Theme.Name != "mono" {
		t.Errorf("an ASCII terminal should get the mono theme, got %s", final.opts.Theme.Name)
	}
	view := ansi.Strip(final.View().Content)
	for _, want := range []string{"keys · ? or esc to close", "next finding", "go to time", "04:00:10", "REPLAY ⏸ paused 2×"} {
		if !strings.Contains(view, want) {
			t.Errorf("final view lacks %q:\n%s", want, view)
		}
	}
	out, err := io.ReadAll(tm.FinalOutput(t))
	if err != nil || len(out) == 0 {
		t.Fatalf("no program output: %v", err)
	}
	// Leaving the alternate screen means the terminal was restored.
	if !strings.Contains(string(out), "\x1b[?1049l") {
		t.Error("program did not leave the alternate screen")
	}
}
