package ui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// The -update flag comes from the golden package:
//   go test ./ui -run Golden -update

func update(m Model, msgs ...tea.Msg) Model {
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

func liveFixture(w, h int) Model {
	return update(NewLive(testOptions()), tea.WindowSizeMsg{Width: w, Height: h}, EventsMsg(fixtureSession()),
		RecordingMsg{File: "/var/tmp/db-7-0400.stk", Bytes: 3 << 20, State: "recording"})
}

// screen is what a person sees: the view with styling removed.
func screen(t *testing.T, m Model) string {
	t.Helper()
	s := ansi.Strip(m.View().Content)
	lines := strings.Split(s, "\n")
	if len(lines) > m.h {
		t.Errorf("view has %d lines, terminal has %d", len(lines), m.h)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > m.w {
			t.Errorf("line %d is %d cells wide, terminal has %d: %q", i+1, w, m.w, l)
		}
	}
	return s
}

func TestGoldenLive(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}, {200, 60}, {40, 10}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			golden.RequireEqual(t, screen(t, liveFixture(size[0], size[1])))
		})
	}
}

func TestGoldenReplay(t *testing.T) {
	evs := fixtureSession()
	m := NewReplay(testOptions(), newFakeSource(evs), findingsOf(evs))
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24}, replayInitMsg{})
	m = update(m, tea.KeyPressMsg{Code: 'g', Text: "g"})
	for _, r := range "04:00:12" {
		m = update(m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	m = update(m, tea.KeyPressMsg{Code: tea.KeyEnter})
	golden.RequireEqual(t, screen(t, m))
}

func TestGoldenHelp(t *testing.T) {
	m := update(liveFixture(80, 24), tea.KeyPressMsg{Code: '?', Text: "?"})
	golden.RequireEqual(t, screen(t, m))
}
