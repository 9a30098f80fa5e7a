package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
)

// allProbes is every probe's story on one host: iostat, signals, packets,
// the kernel panes, and a diskfill probe that has not reported yet.
func allProbes(w, h int) Model {
	var evs []event.Event
	for _, ev := range fixtureSession() {
		if ev.Probe != "modules" {
			evs = append(evs, ev)
		}
	}
	evs = append(append(append(evs, signalsSession()...), packetsFixture()...), kernelSession()...)
	sortByTime(evs)
	o := testOptions()
	o.Probes = []string{"iostat", "signals", "packets", "diskfill", "kmsg", "conntrack", "modules", "coredump"}
	o.Now = func() time.Time { return t0.Add(21 * time.Second) }
	return update(NewLive(o), tea.WindowSizeMsg{Width: w, Height: h}, EventsMsg(evs))
}

// TestGoldenHiddenPanes: at 80×24 not every pane fits; those left out are
// named on the grid's last line, not silently absent.
func TestGoldenHiddenPanes(t *testing.T) {
	m := allProbes(80, 24)
	s := screen(t, m)
	if !strings.Contains(s, "+3 panes: 6 conntrack, 7 modules, 8 coredump") {
		t.Errorf("the panes that do not fit should be named:\n%s", s)
	}
	golden.RequireEqual(t, s)
	// Focusing a hidden pane brings it in, and names the ones it pushed out.
	m = typeKeys(m, "8")
	if s := screen(t, m); !strings.Contains(s, "8 coredump · ok") || !strings.Contains(s, "+") {
		t.Errorf("pane 8 should show, the others be named:\n%s", s)
	}
	if s := screen(t, allProbes(200, 60)); strings.Contains(s, "panes:") {
		t.Errorf("all panes fit at 200×60; no line should name hidden ones:\n%s", s)
	}
}

// TestHelpListsEveryPaneGrouped: ? lists the keys of every pane under its
// name, the timeline keys once, and a legend of the marks.
func TestHelpListsEveryPaneGrouped(t *testing.T) {
	m := typeKeys(allProbes(120, 40), "?")
	body := m.helpBody()
	for _, want := range []string{"panes", "everywhere", "timelines: signals, packets, kmsg", "1 iostat", "3 packets",
		"4 diskfill", "filter the timeline", "older / newer match", "marks", "◀ exec race", "ⁱ", "▲", "REC ●"} {
		if !strings.Contains(body, want) {
			t.Errorf("help lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "packets: sort") {
		t.Error("a pane's keys under its title should not repeat its name")
	}
	if strings.Count(body, "search (smart case)") != 1 {
		t.Error("the timeline keys should be listed once")
	}
	// Taller than 80×24: it scrolls.
	m = typeKeys(allProbes(80, 24), "?")
	first := screen(t, m)
	if !strings.Contains(first, "↑/↓ pgup/pgdn: lines 1-") {
		t.Fatalf("a help taller than the screen should say it scrolls:\n%s", first)
	}
	m = typeKeys(m, "pgdown", "pgdown", "pgdown", "pgdown")
	if s := screen(t, m); !strings.Contains(s, "◀ exec race") {
		t.Errorf("scrolled down, the legend should show:\n%s", s)
	}
	golden.RequireEqual(t, screen(t, m))
}

// TestEmptyPanesSayWhy: a pane with nothing to show says why in a line.
func TestEmptyPanesSayWhy(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"iostat"}
	idle := func(s int) event.Event {
		return event.New(t0.Add(time.Duration(s)*time.Second), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{}})
	}
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg{idle(1)})
	if s := screen(t, m); !strings.Contains(s, "no device has done I/O yet; idle ones are hidden (--all-devices shows them)") {
		t.Errorf("idle from the start:\n%s", s)
	}
	m = update(m, EventsMsg{event.New(t0.Add(2*time.Second), "iostat", &schema.IOSample{IntervalS: 1,
		Devices: []schema.DeviceIO{{Device: "sda", WPerS: 5, UtilPct: 3}}}), idle(3)})
	if s := screen(t, m); !strings.Contains(s, "all devices idle this interval (no I/O in flight); --all-devices lists them") ||
		!strings.Contains(s, "sda") {
		t.Errorf("idle after I/O: the line, and sda's history:\n%s", s)
	}
	o.Probes = []string{"packets"}
	m = update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 24}, EventsMsg{
		event.New(t0.Add(time.Second), "packets", &packet.CaptureStats{Iface: "eth0", IntervalS: 1})})
	if s := screen(t, m); !strings.Contains(s, "no packet captured yet on eth0") {
		t.Errorf("a capture with no packet yet:\n%s", s)
	}
}
