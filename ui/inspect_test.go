package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// gimli is the process of the seed incident as the inspector reads it.
func gimli() *schema.ProcessSnapshot {
	s := &schema.ProcessSnapshot{PID: 812, Comm: "gimli", Cmdline: []string{"/usr/sbin/gimli", "-c", "/etc/gimli.conf"},
		State: "S", Wchan: "do_sigtimedwait", PPID: 1, Parents: []schema.ProcRef{{PID: 1, Comm: "systemd"}},
		Started: t0.Add(-3*time.Hour - 12*time.Minute), Cgroup: "/system.slice/gimli.service",
		ThreadsTotal: 3, ThreadStates: map[string]int{"S": 2, "D": 1},
		Threads: []schema.ThreadSnap{
			{TID: 815, Comm: "gimli-io", State: "D", Wchan: "io_schedule", Stack: []string{"io_schedule+0x46/0x70", "folio_wait_bit_common+0x13d/0x350", "ext4_sync_file+0x1c3/0x390"}},
			{TID: 812, Comm: "gimli", State: "S", Wchan: "do_sigtimedwait", Stack: []string{"do_sigtimedwait+0x1a0/0x2a0", "__x64_sys_rt_sigtimedwait+0x6d/0xe0", "do_syscall_64+0x71/0x290"}},
			{TID: 813, Comm: "gimli-w", State: "S", Wchan: "futex_wait_queue", Stack: []string{"futex_wait_queue+0x60/0x90"}},
		},
		FDs: []schema.FDSnap{{FD: 0, Target: "/dev/null"}, {FD: 1, Target: "socket:[81234]"}, {FD: 2, Target: "socket:[81234]"},
			{FD: 3, Target: "/var/lib/gimli/state.db"}},
		FDsTotal: 4,
		Limits: map[string]schema.Limit{"core": {Soft: 0, Hard: -1, Unit: "bytes"}, "nofile": {Soft: 1024, Hard: 524288, Unit: "files"},
			"nproc": {Soft: 63704, Hard: 63704, Unit: "processes"}, "stack": {Soft: 8 << 20, Hard: -1, Unit: "bytes"}},
		IO: &schema.ProcIO{RChar: 3 << 20, WChar: 12 << 10, SyscR: 120, SyscW: 40, ReadBytes: 1 << 20},
	}
	return s
}

// burstSession is the fixture plus a signals pane with gimli's burst.
func burstSession() []event.Event {
	uid := 0
	evs := append(fixtureSession(), event.New(t0, "signals", &event.ProbeStatus{Status: event.StatusOK}))
	for _, ms := range []int{12_000, 12_003} {
		evs = append(evs, event.New(t0.Add(time.Duration(ms)*time.Millisecond), "signals", &schema.Signal{PID: 812, TID: 812,
			Comm: "gimli", Signal: "SIGHUP", Signo: 1, Code: "SI_USER", SenderPID: 4410, SenderUID: &uid, SenderComm: "logrotate"}))
	}
	return evs
}

// inspectOptions are testOptions with a signals pane and a fake /proc.
func inspectOptions(reads *[]int, saved *[]event.Event) Options {
	o := testOptions()
	o.Probes = []string{"iostat", "signals", "modules"}
	o.Inspect = func(pid int) (*schema.ProcessSnapshot, error) {
		*reads = append(*reads, pid)
		if pid != 812 {
			return nil, fmt.Errorf("pid %d: no such process", pid)
		}
		return gimli(), nil
	}
	o.Save = func(ev event.Event) error { *saved = append(*saved, ev); return nil }
	return o
}

// run applies msg and, as the program would, the message its command
// returns (one level: reads and saves are single commands).
func run(m Model, msg tea.Msg) Model {
	next, cmd := m.Update(msg)
	m = next.(Model)
	if cmd != nil {
		if out := cmd(); out != nil {
			next, _ = m.Update(out)
			m = next.(Model)
		}
	}
	return m
}

func inspectLive(t *testing.T, w, h int) (Model, *[]int, *[]event.Event) {
	t.Helper()
	var reads []int
	var saved []event.Event
	m := update(NewLive(inspectOptions(&reads, &saved)), tea.WindowSizeMsg{Width: w, Height: h}, EventsMsg(burstSession()),
		RecordingMsg{File: "/var/tmp/db-7-0400.stk", Bytes: 3 << 20, State: "recording"})
	return m, &reads, &saved
}

// TestInspectorPicksFromThePanes: i lists the processes the panes show
// (the burst's target and sender, newest first), Enter reads the selected
// one live through Options.Inspect, and the view shows every part of it.
func TestInspectorPicksFromThePanes(t *testing.T) {
	m, reads, _ := inspectLive(t, 120, 40)
	m = run(m, press("i"))
	if !m.insp.Active() || len(m.insp.refs) < 2 || m.insp.refs[0].pid != 812 || m.insp.refs[1].pid != 4410 {
		t.Fatalf("picker offers %+v", m.insp.refs)
	}
	pick := screen(t, m)
	for _, want := range []string{"inspect a process", "812     gimli            got SIGHUP at 04:00:12.003", "4410    logrotate        sent SIGHUP to 812"} {
		if !strings.Contains(pick, want) {
			t.Errorf("picker lacks %q:\n%s", want, pick)
		}
	}
	m = run(m, press("enter"))
	if len(*reads) != 1 || (*reads)[0] != 812 {
		t.Fatalf("reads %v", *reads)
	}
	view := screen(t, m)
	for _, want := range []string{
		"process 812 (gimli) · read 04:00:20",
		"state     S (sleeping) in do_sigtimedwait",
		"cmdline   /usr/sbin/gimli -c /etc/gimli.conf",
		"parents   812 gimli ← 1 systemd",
		"started   2026-11-23 00:48:00 (3h12m before this)",
		"cgroup    /system.slice/gimli.service",
		"core      0, hard unlimited: a crash leaves no core",
		"nofile 1024/524288",
		"THREADS 3 · 2 S (do_sigtimedwait), 1 D (io_schedule)",
		"815      D  io_schedule",
		"folio_wait_bit_common+0x13d/0x350",
		"FDS 4",
		"3      /var/lib/gimli/state.db",
	} {
		if !strings.Contains(view, want) {
			t.Errorf("inspector lacks %q:\n%s", want, view)
		}
	}
	// esc goes back to the picker, esc again closes it; the grid is back.
	m = run(run(m, press("esc")), press("esc"))
	if m.insp.Active() || !strings.Contains(screen(t, m), "2 signals") {
		t.Errorf("after esc esc: active %v\n%s", m.insp.Active(), screen(t, m))
	}
}

// TestInspectorSavesIntoTheRecording: s hands the inspection to
// Options.Save as a process_snapshot of the process probe, and says so.
func TestInspectorSavesIntoTheRecording(t *testing.T) {
	m, _, saved := inspectLive(t, 120, 40)
	m = run(run(run(m, press("i")), press("enter")), press("s"))
	if len(*saved) != 1 {
		t.Fatalf("saved %d events", len(*saved))
	}
	ev := (*saved)[0]
	s, ok := event.As[schema.ProcessSnapshot](ev)
	if !ok || ev.Probe != schema.ProbeProcess || ev.Kind != schema.KindProcessSnapshot || s.PID != 812 || s.Finding != "" ||
		!ev.Time.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("saved %+v", ev)
	}
	if v := screen(t, m); !strings.Contains(v, "saved into the recording as a process_snapshot at 04:00:20") {
		t.Errorf("no word of the save:\n%s", v)
	}
	// The saved snapshot comes back from the engine: it is remembered,
	// and it makes no pane of its own.
	m = update(m, EventsMsg{ev})
	if _, ok := m.insp.recorded[procKey{pid: 812}]; !ok {
		t.Error("the saved snapshot is not remembered")
	}
	for _, s := range m.panes.slots {
		if s.probe == schema.ProbeProcess {
			t.Error("a pane for the process probe")
		}
	}
}

// TestInspectorTypedPidAndGone: a pid typed in the picker is read; a
// process that is gone says so, and shows its recorded snapshot if any.
func TestInspectorTypedPidAndGone(t *testing.T) {
	m, reads, saved := inspectLive(t, 120, 40)
	rec := gimli()
	rec.PID, rec.Comm, rec.Finding = 4242, "mysqld", "disk.filling /srv"
	m = update(m, EventsMsg{event.New(t0.Add(15*time.Second), schema.ProbeProcess, rec)})
	m = run(m, press("i"))
	for _, k := range []string{"4", "2", "4", "2"} {
		m = run(m, press(k))
	}
	m = run(m, press("enter"))
	if len(*reads) != 1 || (*reads)[0] != 4242 {
		t.Fatalf("reads %v", *reads)
	}
	v := screen(t, m)
	for _, want := range []string{"live: pid 4242: no such process; showing the snapshot recorded at 04:00:15",
		"process 4242 (mysqld) · recorded 04:00:15"} {
		if !strings.Contains(v, want) {
			t.Errorf("lacks %q:\n%s", want, v)
		}
	}
	if m = run(m, press("s")); len(*saved) != 0 || !strings.Contains(screen(t, m), "nothing read live to save") {
		t.Errorf("s on a recorded snapshot saved %d", len(*saved))
	}
	// A read answered after the user moved on is dropped.
	m = run(m, press("esc"))
	m = update(m, inspectedMsg{gen: m.insp.gen - 1, pid: 4242, snap: gimli()})
	if m.insp.mode != inspectPicking {
		t.Error("a stale read reopened the viewer")
	}
}

// TestInspectorInReplay: a replay has no /proc to read: Enter shows the
// latest snapshot the recording holds up to the position, and says when
// there is none; snapshots make no pane.
func TestInspectorInReplay(t *testing.T) {
	evs := burstSession()
	snap := gimli()
	snap.Finding = "signal.burst 812 SIGHUP"
	evs = append(evs, event.New(t0.Add(12_050*time.Millisecond), schema.ProbeProcess, snap))
	o := testOptions()
	o.Probes = []string{"iostat", "signals", "modules"}
	m := NewReplay(o, newFakeSource(evs), findingsOf(evs))
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40}, replayInitMsg{})
	m = typeKeys(m, "g", "0", "4", ":", "0", "0", ":", "1", "1", "enter", "i", "8", "1", "2", "enter")
	if v := screen(t, m); !strings.Contains(v, "the recording holds no snapshot of pid 812 up to here") {
		t.Errorf("before the snapshot:\n%s", v)
	}
	m = typeKeys(m, "esc", "esc", "g", "0", "4", ":", "0", "0", ":", "1", "3", "enter", "i")
	if len(m.insp.refs) == 0 || m.insp.refs[0].pid != 812 {
		t.Fatalf("picker %+v", m.insp.refs)
	}
	m = typeKeys(m, "enter")
	v := screen(t, m)
	for _, want := range []string{"process 812 (gimli) · recorded 04:00:12 · esc back", "state     S (sleeping) in do_sigtimedwait"} {
		if !strings.Contains(v, want) {
			t.Errorf("lacks %q:\n%s", want, v)
		}
	}
	for _, s := range m.panes.slots {
		if s.probe == schema.ProbeProcess {
			t.Error("a pane for the process probe")
		}
	}
}

// TestInspectorScrolls: a long inspection pages with pgdn and back.
func TestInspectorScrolls(t *testing.T) {
	m, _, _ := inspectLive(t, 80, 24)
	m = run(run(m, press("i")), press("enter"))
	top := screen(t, m)
	m = run(m, tea.KeyPressMsg{Code: tea.KeyPgDown})
	down := screen(t, m)
	if top == down || !strings.Contains(down, "FDS 4") || strings.Contains(down, "cmdline") {
		t.Errorf("pgdn did not page:\n%s", down)
	}
	if m = run(m, press("home")); screen(t, m) != top {
		t.Error("home did not go back to the top")
	}
}

func TestGoldenInspector(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("picker-%dx%d", size[0], size[1]), func(t *testing.T) {
			m, _, _ := inspectLive(t, size[0], size[1])
			golden.RequireEqual(t, screen(t, run(m, press("i"))))
		})
		t.Run(fmt.Sprintf("process-%dx%d", size[0], size[1]), func(t *testing.T) {
			m, _, _ := inspectLive(t, size[0], size[1])
			golden.RequireEqual(t, screen(t, run(run(m, press("i")), press("enter"))))
		})
	}
}
