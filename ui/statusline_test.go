package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
)

// lastLine is the status line of the screen.
func lastLine(t *testing.T, m Model) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(screen(t, m), "\n"), "\n")
	return lines[len(lines)-1]
}

// TestRecordingPausedShowsHowToRecordElsewhere: a paused recording says why
// and how to record elsewhere; as the terminal narrows the reason is cut
// before the hint; a resume shows REC ● again.
func TestRecordingPausedShowsHowToRecordElsewhere(t *testing.T) {
	const hint = "record elsewhere with --record /other/fs/file.stk"
	reason := "its filesystem is filling (disk.filling): /var: 310 MiB of 40 GiB available, full in 2m\x1b[2J"
	paused := RecordingMsg{File: "/var/tmp/s.stk", Bytes: 1 << 20, State: "paused", Reason: reason, Hint: hint}
	for _, c := range []struct {
		w           int
		has, notHas string
	}{
		{200, `REC paused: its filesystem is filling (disk.filling): /var: 310 MiB of 40 GiB available, full in 2m\x1b[2J — ` + hint, ""},
		{120, "REC paused: its filesystem is filling (disk.… — " + hint, ""},
		{80, "REC paused — use --record /other/fs/file.stk", "its filesystem"}, // the finding above says why
		{60, "REC paused — use --record /other/", ""},
	} {
		m := update(NewLive(testOptions()), tea.WindowSizeMsg{Width: c.w, Height: 24}, paused)
		line := lastLine(t, m)
		if !strings.Contains(line, c.has) || (c.notHas != "" && strings.Contains(line, c.notHas)) {
			t.Errorf("at %d columns: %q, want %q", c.w, line, c.has)
		}
		if strings.Contains(m.View().Content, "\x1b[2J") {
			t.Errorf("at %d columns the reason's escape reached the terminal", c.w)
		}
	}

	// From the events themselves (as replay and the engine's notices give).
	m := update(NewLive(testOptions()), tea.WindowSizeMsg{Width: 160, Height: 24},
		RecordingMsg{File: "/var/tmp/s.stk", Bytes: 1 << 20, State: "recording"},
		EventsMsg{event.New(t0, "recorder", &event.Recording{State: "paused", Reason: "filesystem nearly full", Hint: hint})})
	if line := lastLine(t, m); !strings.Contains(line, "REC paused: filesystem nearly full — "+hint) {
		t.Errorf("after a paused event: %q", line)
	}
	m = update(m, EventsMsg{event.New(t0, "recorder", &event.Recording{State: "resumed"})})
	if line := lastLine(t, m); !strings.Contains(line, "REC ● s.stk") {
		t.Errorf("after a resumed event: %q", line)
	}
}
