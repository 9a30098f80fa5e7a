package ui

import (
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
	"github.com/stakeout/stakeout/schema"
)

var paneTitle = regexp.MustCompile(`(\d+) (` + strings.Join(probes.Names(), "|") + `) ·`)

// paneNumbers reads "N probe ·" off the pane titles on the screen.
func paneNumbers(t *testing.T, m Model) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, mm := range paneTitle.FindAllStringSubmatch(screen(t, m), -1) {
		got[mm[2]] = mm[1]
	}
	return got
}

// TestPaneNumbersLiveAndReplayAgree: live, the panes come from --probes as
// typed (coredump,modules,kmsg,iostat); a recording of the same probes
// names them in the order their checks finished, and the replay lists them
// as it first meets them. Both number the panes in the README's --probes
// order, and the same digit focuses the same probe.
func TestPaneNumbersLiveAndReplayAgree(t *testing.T) {
	statuses := []event.Event{ // the order the engine's probe goroutines happened to report
		event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "modules", &event.ProbeStatus{Status: event.StatusUnavailable, Reason: modulesReason}),
		event.New(t0, "coredump", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "iostat", &event.ProbeStatus{Status: event.StatusOK}),
	}
	evs := append(statuses, event.New(t0.Add(time.Second), "iostat",
		&schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sda", UtilPct: 5}}}))
	size := tea.WindowSizeMsg{Width: 120, Height: 40}

	live := testOptions()
	live.Probes = []string{"coredump", "modules", "kmsg", "iostat"}
	lm := update(NewLive(live), size, EventsMsg(evs))

	rep := testOptions()
	for _, ev := range statuses {
		rep.Probes = append(rep.Probes, ev.Probe)
	}
	rm := update(NewReplay(rep, newFakeSource(evs), nil), size, replayInitMsg{})

	want := map[string]string{"iostat": "1", "kmsg": "2", "modules": "3", "coredump": "4"}
	for name, m := range map[string]Model{"live": lm, "replay": rm} {
		got := paneNumbers(t, m)
		for p, n := range want {
			if got[p] != n {
				t.Errorf("%s: pane numbers %v, want %v", name, got, want)
				break
			}
		}
		if f := update(m, press("2")).panes; f.slots[f.Focused()].probe != "kmsg" {
			t.Errorf("%s: 2 focuses %s, want kmsg", name, f.slots[f.Focused()].probe)
		}
	}
}

// TestPaneAddedLaterKeepsOrderAndFocus: a probe first met mid-replay takes
// its place in the order, and the focused pane stays focused.
func TestPaneAddedLaterKeepsOrderAndFocus(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"coredump", "iostat"}
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 120, Height: 40}, press("2")) // coredump
	m = update(m, EventsMsg{event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "x-future", &event.ProbeStatus{Status: event.StatusOK})})
	var order []string
	for _, s := range m.panes.slots {
		order = append(order, s.probe)
	}
	if got := strings.Join(order, ","); got != "iostat,kmsg,coredump,x-future" {
		t.Errorf("panes %s", got)
	}
	if p := m.panes.slots[m.panes.Focused()].probe; p != "coredump" {
		t.Errorf("focus moved to %s", p)
	}
}
