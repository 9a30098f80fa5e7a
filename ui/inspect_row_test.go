package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// pressAll presses k and, as the program would, runs the commands that
// follow from it: a pane's ask, then the root's read.
func pressAll(m Model, k string) Model {
	next, cmd := m.Update(press(k))
	m = next.(Model)
	for range 4 {
		if cmd == nil {
			break
		}
		msg := cmd()
		if msg == nil {
			break
		}
		next, cmd = m.Update(msg)
		m = next.(Model)
	}
	return m
}

// rowInspectModel is a live UI over panes, reading every pid as gimli.
func rowInspectModel(t *testing.T, probes []string, evs []event.Event, reads *[]int) Model {
	t.Helper()
	o := testOptions()
	o.Probes = probes
	o.Now = func() time.Time { return t0.Add(30 * time.Second) }
	o.Inspect = func(pid int) (*schema.ProcessSnapshot, error) {
		*reads = append(*reads, pid)
		s := gimli()
		s.PID = pid
		return s, nil
	}
	return update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(evs))
}

// Enter on a selected signals row opens the inspector on the process it
// names: at once for one (an exec), esc going back to the pane with the
// row still selected; a picker of just the two for a signal with a
// sender. With no row selected, Enter zooms the pane as before.
func TestEnterOnSignalsRowInspectsItsProcess(t *testing.T) {
	var reads []int
	m := rowInspectModel(t, []string{"signals"}, signalsSession(), &reads)
	m = typeKeys(m, "/", "s", "b", "i", "n", "enter") // the exec of 812 to /usr/sbin/gimli
	m = pressAll(m, "enter")
	if !m.insp.Active() || m.insp.mode != inspectViewing || m.insp.pid != 812 || len(reads) != 1 || reads[0] != 812 {
		t.Fatalf("enter on the exec row: inspector %v mode %d pid %d, reads %v", m.insp.Active(), m.insp.mode, m.insp.pid, reads)
	}
	if s := screen(t, m); !strings.Contains(s, "process 812 (gimli)") {
		t.Errorf("the inspector should show 812:\n%s", s)
	}
	m = typeKeys(m, "esc")
	if m.insp.Active() || m.panes.Zoomed() {
		t.Fatalf("esc from a process opened from a row should go back to the panes")
	}
	sp := m.panes.slots[0].pane.(signalsPane)
	if i := sp.selected(); i < 0 || sp.rows[i].what != "exec" {
		t.Errorf("back in the pane, the exec row should still be selected, got %d", i)
	}
	m = typeKeys(m, "esc", "esc", "/", "4", "4", "1", "1", "enter") // follow again; the SIGUSR1 from 4411
	m = pressAll(m, "enter")
	if m.insp.mode != inspectPicking || len(m.insp.refs) != 2 || m.insp.refs[0].pid != 812 || m.insp.refs[1].pid != 4411 {
		t.Fatalf("a signal row should offer its target and its sender, and only them: mode %d refs %+v", m.insp.mode, m.insp.refs)
	}
	m = pressAll(m, "down")
	m = pressAll(m, "enter")
	if m.insp.mode != inspectViewing || m.insp.pid != 4411 {
		t.Fatalf("enter in that picker should open the sender, got mode %d pid %d", m.insp.mode, m.insp.pid)
	}
	m = typeKeys(m, "esc")
	if m.insp.mode != inspectPicking {
		t.Error("esc from a process picked in the list goes back to the list")
	}
	m = typeKeys(m, "esc", "esc", "esc") // close the list, clear the search, let the row go
	if m.insp.Active() || m.panes.slots[0].pane.(signalsPane).selected() >= 0 {
		t.Fatal("three escapes should leave the pane with nothing selected")
	}
	m = pressAll(m, "enter")
	if m.insp.Active() || !m.panes.Zoomed() {
		t.Errorf("enter with no row selected should zoom: inspector %v zoomed %v", m.insp.Active(), m.panes.Zoomed())
	}
}

// Enter on a kernel log line that names a process (a segfault) inspects
// that process; on a line that names none it zooms the pane.
func TestEnterOnKmsgLineInspectsItsProcess(t *testing.T) {
	var reads []int
	m := rowInspectModel(t, []string{"kmsg"}, kernelSession(), &reads)
	m = typeKeys(m, "/", "s", "e", "g", "f", "a", "u", "l", "t", "enter")
	if s := screen(t, m); !strings.Contains(s, "▶ 610 haproxy · enter inspect") {
		t.Errorf("the selected line's process should lead the footer:\n%s", s)
	}
	m = pressAll(m, "enter")
	if m.insp.mode != inspectViewing || m.insp.pid != 610 || len(reads) != 1 {
		t.Fatalf("enter on the segfault line: mode %d pid %d reads %v", m.insp.mode, m.insp.pid, reads)
	}
	m = typeKeys(m, "esc", "/", "N", "e", "t", "f", "i", "l", "t", "e", "r", "enter")
	if m.insp.Active() {
		t.Fatal("esc should have closed the inspector")
	}
	m = pressAll(m, "enter")
	if m.insp.Active() || !m.panes.Zoomed() {
		t.Errorf("enter on a line naming no process should zoom: inspector %v zoomed %v", m.insp.Active(), m.panes.Zoomed())
	}
}

// In the diskfill pane Enter zooms until ↑/↓ picks a filesystem; then it
// inspects that filesystem's writer (one: opened at once), or offers its
// writers and the holders of its deleted files; esc lets the pick go.
func TestEnterOnDiskfillInspectsWriters(t *testing.T) {
	var reads []int
	m := rowInspectModel(t, []string{"diskfill"}, diskSession(), &reads)
	m = pressAll(m, "enter")
	if m.insp.Active() || !m.panes.Zoomed() {
		t.Fatalf("enter before a pick should zoom: inspector %v zoomed %v", m.insp.Active(), m.panes.Zoomed())
	}
	m = typeKeys(m, "enter", "j", "k") // unzoom; pick /srv/binlog, the filling one
	if s := screen(t, m); !strings.Contains(s, "· enter inspect") {
		t.Errorf("a picked filesystem with a writer should say enter inspects:\n%s", s)
	}
	m = pressAll(m, "enter")
	if m.insp.mode != inspectViewing || m.insp.pid != 4242 || len(reads) != 1 {
		t.Fatalf("enter on /srv/binlog should open its writer 4242: mode %d pid %d reads %v", m.insp.mode, m.insp.pid, reads)
	}
	m = typeKeys(m, "esc", "esc")
	if m.insp.Active() || m.panes.slots[0].pane.(diskFillPane).picked {
		t.Fatal("esc, esc: the inspector closed, the pick let go")
	}
	m = pressAll(m, "enter")
	if m.insp.Active() || !m.panes.Zoomed() {
		t.Errorf("enter after esc should zoom again: inspector %v zoomed %v", m.insp.Active(), m.panes.Zoomed())
	}
}

// In a replay (no live read), Enter on a row opens the recorded snapshot
// of its process, or says the recording holds none.
func TestEnterOnRowInReplayShowsRecordedSnapshot(t *testing.T) {
	evs := burstSession()
	snap := gimli()
	evs = append(evs, event.New(t0.Add(12100*time.Millisecond), "signals", snap))
	sortByTime(evs)
	o := testOptions()
	o.Probes = []string{"iostat", "signals"}
	m := NewReplay(o, newFakeSource(evs), nil)
	m = update(m, tea.WindowSizeMsg{Width: 100, Height: 30}, replayInitMsg{})
	m = typeKeys(m, "end", "2", "/", "4", "4", "1", "0", "enter")
	m = pressAll(m, "enter") // target 812 and sender 4410: the list
	m = pressAll(m, "enter") // 812
	if s := screen(t, m); m.insp.pid != 812 || !strings.Contains(s, "process 812 (gimli) · recorded") {
		t.Errorf("the recorded snapshot of 812 should show:\n%s", s)
	}
	m = typeKeys(m, "esc", "down")
	m = pressAll(m, "enter") // 4410: never snapshotted
	if s := screen(t, m); !strings.Contains(s, "the recording holds no snapshot of pid 4410") {
		t.Errorf("4410 has no snapshot:\n%s", s)
	}
}
