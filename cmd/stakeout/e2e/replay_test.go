//go:build linux

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// writeBacklogRecording writes ten minutes of a session that began at
// 04:00:00 (sdb saturated from 04:00:10 to 04:00:22) whose kernel log
// backlog starts three hours before, written after the first sample as
// the kmsg probe writes it.
func writeBacklogRecording(t *testing.T) string {
	t.Helper()
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "backlog.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7", Started: t0, Interval: time.Second},
		sessions.WriterOptions{FlushEvery: -1})
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
	for s := 1; s <= 600; s++ {
		sdb := schema.DeviceIO{Device: "sdb", WPerS: 40, WKBPerS: 320, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 10 && s <= 22 {
			sdb = schema.DeviceIO{Device: "sdb", WPerS: 850, WKBPerS: 110800, WAwaitMs: 250, AquSz: 42, UtilPct: 99.8}
		}
		must(w.Write(event.New(t0.Add(time.Duration(s)*time.Second), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{sdb}})))
		if s == 1 {
			for m := 180; m > 0; m -= 10 {
				must(w.Write(event.New(t0.Add(-time.Duration(m)*time.Minute), "kmsg", &schema.Kmsg{Level: "info", Priority: 6,
					Facility: "kern", Text: "an old line", Backlog: true})))
			}
		}
	}
	must(w.Close())
	return path
}

// TestReplayOpensAtTheSessionStart runs `stakeout replay` on a real
// pseudo-terminal over a recording whose kernel log backlog starts three
// hours before the session: its first screen's clock is 04:00:00, where
// the session began, not 01:00:00. (Later screens are drawn as changes to
// the first, so only the first is read here; ui's
// TestReplayOpensWhereTheSessionBegan follows the replay further.)
func TestReplayOpensAtTheSessionStart(t *testing.T) {
	share(t)
	file := writeBacklogRecording(t)
	p := startOnPTY(t, 120, 40, "replay", "--theme", "mono", file)
	p.waitShown("REPLAY")
	screen := ansi.Strip(p.written())
	i := strings.Index(screen, "REPLAY")
	if clock := screen[max(i-14, 0):i]; !strings.Contains(clock, "04:00:0") {
		t.Errorf("the first screen's clock is %q, want the session's start 04:00:0x:\n%s", clock, screen)
	}
	p.quit(t)
}
