package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
)

// cond is one event of a condition keyed key: a raise (state ""), an
// update or a clear, s seconds after t0.
func cond(s int, name, key, state string, sev event.Severity, count int, summary string) event.Event {
	f := &event.Finding{Finding: name, Key: key, State: state, Severity: sev, Count: count, Summary: summary}
	if state != "" {
		f.Since = t0
	}
	return event.New(t0.Add(time.Duration(s)*time.Second), "x", f)
}

func stripLines(t *testing.T, m Model) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(ansi.Strip(m.strip.View()), "\n") {
		if l = strings.TrimRight(l, " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Issue 12: within 15 s core.dumps_lost's repeats pushed a CRIT
// disk.filling off the strip. Now its updates fold into one line (×N, last
// at T), the critical is pinned on top until acknowledged (a) or cleared,
// and a cleared condition sinks below what is still going on.
func TestStripOneLinePerConditionCriticalsPinned(t *testing.T) {
	m := update(NewLive(testOptions()), tea.WindowSizeMsg{Width: 120, Height: 30})
	evs := []event.Event{
		cond(0, "disk.filling", "disk.filling /var", "", event.Critical, 0, "/var: full in 4m"),
		cond(1, "core.dumps_lost", "core.dumps_lost zero_limit", "", event.Warn, 0, "26 of 26 processes have a core size limit of 0"),
	}
	for i := 2; i <= 15; i++ {
		evs = append(evs, cond(i, "core.dumps_lost", "core.dumps_lost zero_limit", event.FindingUpdate, event.Warn, i,
			fmt.Sprintf("%d of %d processes have a core size limit of 0", 24+i, 24+i)))
	}
	evs = append(evs, cond(16, "kernel.segfault", "kernel.segfault a", "", event.Warn, 0, "a segfaulted"),
		cond(17, "kernel.segfault", "kernel.segfault b", "", event.Warn, 0, "b segfaulted"))
	m = update(m, EventsMsg(evs))
	m.strip = m.strip.SetSize(120, 3)
	got := stripLines(t, m)
	want := []string{
		"▌CRIT 04:00:00 disk.filling  /var: full in 4m",
		"▌WARN 04:00:17 kernel.segfault  b segfaulted",
		"  +2 more",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("strip:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m.strip.Len() != 4 || m.strip.Pinned() != 1 {
		t.Fatalf("%d lines, %d pinned", m.strip.Len(), m.strip.Pinned())
	}

	// Acknowledged: no longer pinned, but still an open critical, worst
	// first; the core line shows its count and last update.
	m = update(m, tea.KeyPressMsg{Code: 'a', Text: "a"})
	m.strip = m.strip.SetSize(120, 10)
	got = stripLines(t, m)
	if m.strip.Pinned() != 0 || !strings.HasPrefix(got[0], "▌CRIT 04:00:00 disk.filling acknowledged") ||
		got[3] != "▌WARN 04:00:01 core.dumps_lost ×15, last at 04:00:15  39 of 39 processes have a core size limit of 0" {
		t.Fatalf("after a:\n%s", strings.Join(got, "\n"))
	}

	// A new critical is pinned above the acknowledged one; the fill's clear
	// sends it below everything still open; its return is a new line.
	m = update(m, EventsMsg{
		cond(20, "io.saturated", "io.saturated sdb", "", event.Critical, 0, "sdb stalled"),
		cond(21, "disk.filling", "disk.filling /var", event.FindingCleared, event.Warn, 22, "/var: 40 GiB available"),
	})
	got = stripLines(t, m)
	if !strings.HasPrefix(got[0], "▌CRIT 04:00:20 io.saturated  sdb stalled") ||
		got[len(got)-1] != "▌CRIT 04:00:00 disk.filling ×22, cleared at 04:00:21  /var: 40 GiB available" {
		t.Fatalf("after the clear:\n%s", strings.Join(got, "\n"))
	}
	m = update(m, EventsMsg{cond(30, "disk.filling", "disk.filling /var", "", event.Warn, 0, "/var: filling again")})
	if m.strip.Len() != 6 {
		t.Fatalf("the fill's return is not a new line: %d", m.strip.Len())
	}
}

// The strip is bounded, and trimming drops the lowest ranked: a pinned
// critical raised first survives 2000 later warnings.
func TestStripBoundKeepsPinnedCriticals(t *testing.T) {
	st := testOptions().Theme.Styles
	s := newFindingStrip(paneEnv{st: &st, loc: time.UTC})
	s = s.Add(cond(0, "disk.filling", "disk.filling /var", "", event.Critical, 0, "/var"))
	for i := range 2000 {
		s = s.Add(cond(i+1, "kernel.segfault", fmt.Sprintf("kernel.segfault c%d", i), "", event.Warn, 0, "x"))
		s = s.Add(cond(i+1, "kernel.segfault", fmt.Sprintf("kernel.segfault c%d", i), event.FindingUpdate, event.Warn, 2, "x"))
	}
	if s.Len() > maxStripFindings+maxStripFindings/10 || s.Pinned() != 1 || len(s.open) > s.Len() {
		t.Fatalf("%d items, %d pinned, %d open", s.Len(), s.Pinned(), len(s.open))
	}
}

// A replay's n/N stop where a condition was raised or changed severity,
// not at every update nor at its clear.
func TestReplayStopsAtRaisesNotUpdates(t *testing.T) {
	evs := []event.Event{
		cond(0, "x.y", "k", "", event.Warn, 0, "raised"),
		cond(10, "x.y", "k", event.FindingUpdate, event.Warn, 10, "figures"),
		cond(20, "x.y", "k", event.FindingUpdate, event.Critical, 20, "worse"),
		cond(30, "x.y", "k", event.FindingUpdate, event.Critical, 30, "figures"),
		cond(40, "x.y", "k", event.FindingCleared, event.Critical, 40, "over"),
		cond(50, "x.y", "k", "", event.Warn, 0, "again"),
		event.New(t0.Add(55*time.Second), event.ProbeNote, event.NewNote("me", "look")),
	}
	var stops []int
	for _, ev := range markStops(evs) {
		stops = append(stops, int(ev.Time.Sub(t0)/time.Second))
	}
	if fmt.Sprint(stops) != "[0 20 50 55]" {
		t.Fatalf("stops at %v s", stops)
	}
}
