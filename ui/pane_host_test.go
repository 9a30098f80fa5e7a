package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/themes"
)

// hostSession is a 2-CPU host under memory pressure from a hog in its own
// cgroup, with a CPU burner and a writer beside it.
func hostSession(n int) []event.Event {
	evs := []event.Event{
		event.New(t0, "host", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0, "host", &schema.HostInfo{CPUs: 2, TopN: 5, Cgroup2: "/sys/fs/cgroup", ForksFrom: "proc_connector"}),
	}
	for i := 1; i <= n; i++ {
		psi := float64(min(i*5, 60))
		s := &schema.HostSample{IntervalS: 1, Load1: 3.5, Load5: 2.25, Load15: 1.1, Running: 4, Blocked: 1, Procs: 212,
			CPU:      schema.HostCPU{CPUs: 2, User: 40, System: 15, IOWait: 10, SoftIRQ: 2, Steal: 12, Idle: 21},
			CtxtPerS: 4200, ForksPerS: 12,
			Mem: schema.HostMem{TotalBytes: 8 << 30, AvailableBytes: 1 << 30, UsedBytes: 7 << 30, CachedBytes: 600 << 20,
				DirtyBytes: 12 << 20, SwapTotalBytes: 2 << 30, SwapUsedBytes: 1 << 30, SwapInPerS: 3 << 20, SwapOutPerS: 5 << 20},
			PSI: &schema.HostPSI{CPU: &schema.PSIResource{SomeAvg10: 8}, IO: &schema.PSIResource{SomeAvg10: 4},
				Memory: &schema.PSIResource{SomeAvg10: psi, FullAvg10: psi / 5,
					Cgroup: &schema.PSICgroup{Path: "/stk.slice/hog.scope", SomeAvg10: psi + 2, PIDs: []int{4242}}}},
			Top: []schema.HostProc{
				{PID: 4300, PPID: 1, Comm: "burner", User: "alice", State: "R", CPUPct: 180, RSSBytes: 20 << 20, Threads: 4},
				{PID: 4242, PPID: 1, Comm: "memhog", User: "bob", State: "D", CPUPct: 35, RSSBytes: 3 << 30, MajfltPerS: 900},
				{PID: 4400, PPID: 1, Comm: "writer\x1b]0;x\x07", User: "root", State: "S", CPUPct: 2, RSSBytes: 5 << 20, WriteBytesPerS: 40 << 20},
			}}
		evs = append(evs, event.New(t0.Add(time.Duration(i)*time.Second), "host", s))
	}
	return evs
}

func TestGoldenHost(t *testing.T) {
	o := testOptions()
	o.Probes = []string{"host"}
	o.Now = func() time.Time { return t0.Add(21 * time.Second) }
	evs := hostSession(20)
	evs = append(evs, findings.Run(findings.All(findings.Config{}), evs)...)
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 120, Height: 40}, EventsMsg(evs))
	s := screen(t, m)
	for _, want := range []string{"load 3.50 2.25 1.10", "steal 12.0", "used 7.0 GiB of 8.0 GiB", "in 3.0 MiB/s out 5.0 MiB/s",
		"memory 60.0/12.0", "/stk.slice/hog.scope", "burner", "memhog", "3.0 GiB", "40.0 MiB", "host.pressure", "host.swap_storm",
		"host.cpu_steal", "psi mem"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if strings.Contains(s, "\x1b]0;") {
		t.Error("a process name reached the terminal unsanitized")
	}
	golden.RequireEqual(t, s)
	// At 80×24, among the other panes, every line still fits (screen checks).
	o.Probes = []string{"host", "iostat", "kmsg"}
	screen(t, update(NewLive(o), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg(evs)))
}

// o sorts the processes by CPU, memory, then I/O; ↓ and ↑ move the
// selection, which follows its process across samples.
func TestHostPaneSortsAndSelects(t *testing.T) {
	st := themes.Must("dark").Styles
	p := newHostPane(paneEnv{st: &st, loc: time.UTC})
	p.SetSize(120, 30)
	for _, ev := range hostSession(3) {
		p = p.Apply(ev)
	}
	first := func() string {
		for _, l := range strings.Split(ansi.Strip(p.View()), "\n") {
			if f := strings.Fields(l); len(f) > 3 && (f[0] == "4300" || f[0] == "4242" || f[0] == "4400" || f[0] == "▸") {
				return l
			}
		}
		return ""
	}
	for _, want := range []string{"burner", "memhog", "writer"} {
		if l := first(); !strings.Contains(l, want) {
			t.Errorf("first row %q, want %s", l, want)
		}
		p, _ = updatePane(p, press("o"))
	}
	if l := first(); !strings.Contains(l, "burner") {
		t.Errorf("o does not come back to CPU: %q", l)
	}
	hp := p.(hostPane)
	if _, ok := hp.SelectedPID(); ok {
		t.Error("a process is selected before any key")
	}
	p, _ = updatePane(p, press("down"))
	p, _ = updatePane(p, press("down"))
	if pid, _ := p.(hostPane).SelectedPID(); pid != 4242 {
		t.Errorf("selected %d after ↓↓, want 4242", pid)
	}
	p = p.Apply(hostSession(4)[5]) // a new sample: the selection stays on its process
	p, _ = updatePane(p, press("up"))
	if pid, _ := p.(hostPane).SelectedPID(); pid != 4300 {
		t.Errorf("selected %d after ↑, want 4300", pid)
	}
	if !strings.Contains(ansi.Strip(p.View()), "▸    4300") {
		t.Errorf("the selected row is not marked:\n%s", p.View())
	}
}

// A sample without a scan (a quiet host) keeps the last process list; a
// host without PSI says so, and why, in the pane.
func TestHostPaneQuietSampleAndMissingParts(t *testing.T) {
	st := themes.Must("dark").Styles
	env := paneEnv{st: &st, loc: time.UTC}
	p := newHostPane(env)
	p.SetSize(100, 30)
	for _, ev := range hostSession(2) {
		p = p.Apply(ev)
	}
	quiet := &schema.HostSample{IntervalS: 1, CPU: schema.HostCPU{CPUs: 2, Idle: 100}}
	p = p.Apply(event.New(t0.Add(5*time.Second), "host", quiet))
	if v := p.View(); !strings.Contains(v, "memhog") || !strings.Contains(v, "212 procs") {
		t.Errorf("the quiet sample dropped the list:\n%s", v)
	}
	p = newHostPane(env)
	p.SetSize(100, 30)
	p = p.Apply(event.New(t0, "host", &schema.HostInfo{CPUs: 1, TopN: 5, ForksFrom: "scan", Unavailable: []schema.HostPart{
		{Part: "psi", Reason: "no /proc/pressure: this kernel keeps no pressure stall information"}}}))
	if v := p.View(); !strings.Contains(v, "psi unavailable: no /proc/pressure") {
		t.Errorf("before a sample:\n%s", v)
	}
	p = p.Apply(event.New(t0.Add(time.Second), "host", &schema.HostSample{IntervalS: 1, CPU: schema.HostCPU{CPUs: 1, Idle: 100},
		Top: []schema.HostProc{{PID: 1, Comm: "init", RSSBytes: 1 << 20}}}))
	v := p.View()
	for _, want := range []string{"psi  none", "psi unavailable: no /proc/pressure", "init"} {
		if !strings.Contains(v, want) {
			t.Errorf("pane lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "psi cpu") {
		t.Errorf("PSI history drawn without PSI:\n%s", v)
	}
}

// Enter on a selected process opens the inspector on it (with nothing
// selected it zooms, as everywhere); i offers the selected process first.
func TestHostPaneEnterOpensTheInspector(t *testing.T) {
	var reads []int
	var saved []event.Event
	o := inspectOptions(&reads, &saved)
	o.Probes = []string{"host"}
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 120, Height: 40}, EventsMsg(hostSession(3)))
	if m = run(m, press("enter")); !m.panes.Zoomed() || m.insp.Active() {
		t.Fatalf("enter with nothing selected: zoomed %v, inspector %v", m.panes.Zoomed(), m.insp.Active())
	}
	m = run(m, press("enter"))
	m = run(run(m, press("down")), press("down")) // by CPU: 4300, then 4242
	next, ask := m.Update(press("enter"))         // the pane asks the root to open 4242
	m = run(next.(Model), ask())                  // and the root reads it
	if !m.insp.Active() || len(reads) != 1 || reads[0] != 4242 || m.panes.Zoomed() {
		t.Fatalf("enter on 4242: inspector %v, reads %v, zoomed %v", m.insp.Active(), reads, m.panes.Zoomed())
	}
	if s := screen(t, m); !strings.Contains(s, "pid 4242") {
		t.Errorf("the inspector does not say which process:\n%s", s)
	}
	// Opened from the pane, esc goes back to the pane, still selected.
	m = run(m, press("esc"))
	if m.insp.Active() {
		t.Fatal("esc leaves the inspector open")
	}
	if m = run(m, press("i")); len(m.insp.refs) < 3 || m.insp.refs[0].pid != 4242 || !strings.Contains(m.insp.refs[0].why, "35% CPU") {
		t.Errorf("picker offers %+v, want the selected 4242 first", m.insp.refs)
	}
}
