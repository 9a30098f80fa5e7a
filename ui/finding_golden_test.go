package ui

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// step is keys to press, and what the screen must then show.
type step struct {
	keys []string
	want string
}

func press1(k, want string) step { return step{[]string{k}, want} }

// goldenSizes are the terminals the findings goldens are drawn at.
var goldenSizes = [][2]int{{80, 24}, {120, 40}}

// script drives the real program over m with keys, waiting after each
// step for what it must show (so an evidence read off the UI goroutine has
// landed), then quits and returns the final model.
func script(t *testing.T, m Model, w, h int, setup []tea.Msg, steps ...step) Model {
	t.Helper()
	tm := teatest.NewTestModel(t, m,
		teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
	for _, msg := range setup {
		tm.Send(msg)
	}
	for _, s := range steps {
		for _, k := range s.keys {
			tm.Send(nav(k))
		}
		if s.want != "" {
			want := []byte(s.want)
			teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, want) },
				teatest.WithDuration(5*time.Second))
		}
	}
	tm.Type("q")
	final, ok := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if !ok {
		t.Fatal("final model is not a ui.Model")
	}
	return final
}

func liveSetup() []tea.Msg {
	return []tea.Msg{EventsMsg(findingSession()), RecordingMsg{File: "/var/tmp/db-7-0400.stk", Bytes: 3 << 20, State: "recording"}}
}

// Live: 0 focuses the strip; enter opens the selected finding, its
// evidence read for it; g goes to its pane, frozen at its moment.
func TestGoldenFindingsLive(t *testing.T) {
	for _, sz := range goldenSizes {
		name := fmt.Sprintf("%dx%d", sz[0], sz[1])
		t.Run("strip_"+name, func(t *testing.T) {
			m := script(t, NewLive(findingOptions()), sz[0], sz[1], liveSetup(), press1("0", "enter: open"))
			golden.RequireEqual(t, screen(t, m))
		})
		t.Run("opened_"+name, func(t *testing.T) {
			m := script(t, NewLive(findingOptions()), sz[0], sz[1], liveSetup(),
				press1("0", "enter: open"), press1("enter", "evidence"))
			golden.RequireEqual(t, screen(t, m))
		})
		t.Run("jumped_"+name, func(t *testing.T) {
			m := script(t, NewLive(findingOptions()), sz[0], sz[1], liveSetup(),
				press1("0", "enter: open"), press1("enter", "evidence"), press1("g", ""))
			golden.RequireEqual(t, screen(t, m))
		})
	}
}

// Replay: the same, over a recording; g seeks to the finding's moment and
// pauses there.
func TestGoldenFindingsReplay(t *testing.T) {
	for _, sz := range goldenSizes {
		name := fmt.Sprintf("%dx%d", sz[0], sz[1])
		replay := func() Model {
			evs := findingSession()
			return NewReplay(findingOptions(), newFakeSource(evs), findingsOf(evs))
		}
		t.Run("opened_"+name, func(t *testing.T) {
			m := script(t, replay(), sz[0], sz[1], nil,
				step{nil, "REPLAY"}, step{[]string{"end", "0"}, "enter: open"}, press1("enter", "evidence"))
			golden.RequireEqual(t, screen(t, m))
		})
		t.Run("jumped_"+name, func(t *testing.T) {
			m := script(t, replay(), sz[0], sz[1], nil,
				step{nil, "REPLAY"}, step{[]string{"end", "0"}, "enter: open"}, press1("enter", "evidence"), press1("g", ""))
			golden.RequireEqual(t, screen(t, m))
		})
	}
}
