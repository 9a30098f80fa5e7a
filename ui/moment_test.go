package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// momentAt is when the segfault of momentSession happens.
var momentAt = t0.Add(4600 * time.Millisecond)

// momentSession has all three timelines busy before and after a segfault
// at 04:00:04.600, which the kmsg probe's finding names.
func momentSession() []event.Event {
	kmsg := func(ms int, text string) event.Event {
		return event.New(t0.Add(time.Duration(ms)*time.Millisecond), "kmsg", &schema.Kmsg{Priority: 6, Text: text})
	}
	evs := append(signalsSession(), packetsFixture()...)
	evs = append(evs,
		event.New(t0, "kmsg", &event.ProbeStatus{Status: event.StatusOK}),
		kmsg(2000, "audit: before"),
		kmsg(4600, "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in libc.so.6[7fdb03fe2000+87000]"),
		event.New(momentAt, "kmsg", &event.Finding{Finding: "kernel.segfault", Severity: event.Warn, Key: "kernel.segfault 610",
			Summary: "haproxy (610) segfaulted"}),
		kmsg(7000, "audit: after"),
		kmsg(9000, "audit: later still"),
	)
	sortByTime(evs)
	return evs
}

var momentProbes = []string{"signals", "packets", "kmsg"}

// checkMoment: after g, the finding's pane (kmsg) has the focus, and each
// timeline has selected its last row at or before the moment.
func checkMoment(t *testing.T, m Model) {
	t.Helper()
	if i := m.panes.IndexOf("kmsg"); m.panes.Focused() != i || m.detail != nil {
		t.Fatalf("g should close the finding and focus kmsg (pane %d), focused %d", i+1, m.panes.Focused()+1)
	}
	k := m.panes.slots[m.panes.IndexOf("kmsg")].pane.(kmsgPane)
	if first, _ := k.span(); !k.tl.pinned || !strings.Contains(k.lines[k.tl.cursor-first].text, "segfault") {
		t.Errorf("kmsg should select the segfault line: pinned %v cursor %d", k.tl.pinned, k.tl.cursor)
	}
	p := m.panes.slots[m.panes.IndexOf("packets")].pane.(packetsPane)
	if r := p.all.at(p.tl.cursor); !p.tl.pinned || !r.at.Equal(t0.Add(4100*time.Millisecond)) {
		t.Errorf("packets should select the advert at 04:00:04.100, the last before the moment: pinned %v at %s",
			p.tl.pinned, r.at.Format("15:04:05.000"))
	}
	s := m.panes.slots[m.panes.IndexOf("signals")].pane.(signalsPane)
	if i := s.selected(); i < 0 || !s.rows[i].at.Equal(momentAt) || s.rows[i].what != "exit" {
		t.Errorf("signals should select the exit at 04:00:04.600, selected %d", i)
	}
	if v := screen(t, m); !strings.Contains(v, "haproxy[610]: segfault") || !strings.Contains(v, "▶ 610 haproxy") {
		t.Errorf("the segfault line should be in sight, selected:\n%s", v)
	}
}

// g from an opened finding, live: the view freezes and every timeline,
// not only the finding's own pane, shows the finding's moment; a packet
// left open in the packets pane is closed, and its zoom with it.
func TestOpenedFindingMovesEveryTimelineLive(t *testing.T) {
	o := testOptions()
	o.Probes = momentProbes
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 120, Height: 50}, EventsMsg(momentSession()))
	m = keys(m, "2", "up", "enter")
	if !m.panes.slots[1].pane.(packetsPane).ShowsDetail() || !m.panes.Zoomed() {
		t.Fatal("enter on a packet should open it, zoomed")
	}
	m = keys(m, "0", "enter")
	if m.detail == nil || m.detail.probe != "kmsg" {
		t.Fatalf("opened %+v", m.detail)
	}
	m = keys(m, "g")
	if !m.freeze.Frozen() || m.panes.Zoomed() || m.panes.slots[1].pane.(packetsPane).ShowsDetail() {
		t.Errorf("live, g freezes the view (%v), and the packet closes and unzooms (%v)", m.freeze.Frozen(), m.panes.Zoomed())
	}
	checkMoment(t, m)
}

// In a replay g seeks to the moment, pauses, and the timelines, refilled
// up to it, show it the same way.
func TestOpenedFindingMovesEveryTimelineReplay(t *testing.T) {
	evs := momentSession()
	src := newFakeSource(evs)
	o := testOptions()
	o.Probes = momentProbes
	m := NewReplay(o, src, findingsOf(evs))
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 50}, replayInitMsg{})
	m = keys(m, "end", "0", "enter", "g")
	if !src.Position().Equal(momentAt) || !src.Paused() {
		t.Errorf("position %s paused %v, want 04:00:04.600 paused", src.Position().Format("15:04:05.000"), src.Paused())
	}
	checkMoment(t, m)
}
