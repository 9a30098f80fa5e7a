package ui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
	"github.com/stakeout/stakeout/themes"
)

// allProbeNames are the eight probes of allProbes, in pane order.
var allProbeNames = []string{"iostat", "signals", "packets", "diskfill", "kmsg", "conntrack", "modules", "coredump"}

// withHost gives every event of evs the host h.
func withHost(h string, evs []event.Event) []event.Event {
	for i := range evs {
		evs[i].Host = h
	}
	return evs
}

// hostsSession is three hosts' stories on one timeline: the local host
// (db-7.prod) and r1 tell allProbes' story, each probe reporting; r2 has
// its packets, signals and kernel log, its other probes unavailable. r1's
// clock is 3.002 s ahead, r2's 4 ms behind, and r2's stream was lost at
// 04:00:18. r1 and the local host both find sdb saturated, and r1 a
// packet.gap.
func hostsSession() []event.Event {
	var evs []event.Event
	for _, h := range []string{"", "r1", "r2"} {
		var own []event.Event
		for _, ev := range fixtureSession() {
			if ev.Probe != "modules" && (h != "r2" || ev.Kind != event.KindFinding) {
				own = append(own, ev)
			}
		}
		own = append(append(append(own, signalsSession()...), packetsFixture()...), kernelSession()...)
		if h == "r2" {
			kept := own[:0]
			for _, ev := range own {
				if ev.Probe == "packets" || ev.Probe == "signals" || ev.Probe == "kmsg" {
					kept = append(kept, ev)
				}
			}
			own = kept
			for _, p := range []string{"iostat", "diskfill", "conntrack", "modules", "coredump"} {
				own = append(own, event.New(t0, p, &event.ProbeStatus{Status: event.StatusUnavailable, Reason: "not on this host"}))
			}
		}
		if h != "" {
			own = append(own, event.New(t0, "diskfill", &event.ProbeStatus{Status: event.StatusOK}))
		}
		evs = append(evs, withHost(h, own)...)
	}
	evs = append(evs,
		withHost("r1", []event.Event{event.New(t0, schema.ProbeRemote, &schema.HostFacts{Host: "r1", Target: "root@r1", Hostname: "r1.prod"})})[0],
		withHost("r1", []event.Event{event.New(t0, schema.ProbeRemote, &schema.Clock{Host: "r1", Offset: 3002 * time.Millisecond, RTT: time.Millisecond, Samples: 5})})[0],
		withHost("r2", []event.Event{event.New(t0, schema.ProbeRemote, &schema.Clock{Host: "r2", Offset: -4 * time.Millisecond, RTT: time.Millisecond, Samples: 5})})[0],
		withHost("r1", []event.Event{event.New(t0.Add(9*time.Second), "packets", &event.Finding{Finding: "packet.gap", Severity: event.Warn,
			Summary: "vrrp 10.9.0.1 → 224.0.0.18 on veth1 silent 3.5 s (usual 1 s)", Key: "packet.gap veth1 1"})})[0],
		event.New(t0.Add(18*time.Second), schema.ProbeRemote, &event.Finding{Finding: schema.FindingHostLost, Severity: event.Critical,
			Summary: "r2: the stream ended: ssh: connection reset", Key: "host.lost r2",
			Data: schema.HostLostData{Host: "r2", Target: "root@r2", Error: "ssh: connection reset"}}),
	)
	sortByTime(evs)
	return evs
}

func hostsModel(w, h int) Model {
	o := testOptions()
	o.Probes = allProbeNames
	o.Now = func() time.Time { return t0.Add(21 * time.Second) }
	return update(NewLive(o), tea.WindowSizeMsg{Width: w, Height: h}, EventsMsg(hostsSession()))
}

// TestGoldenHosts: three hosts on one timeline, through the real program
// at 80×24 and 120×40: grouped by probe (each probe's hosts side by side
// when they fit), then by host after g. The strip names each finding's
// host, the status line r1's and r2's clock offsets and r2 LOST, and the
// line under the grid the panes that do not fit, with their host.
func TestGoldenHosts(t *testing.T) {
	for _, size := range goldenSizes {
		for _, group := range []string{"by-probe", "by-host"} {
			t.Run(fmt.Sprintf("%dx%d-%s", size[0], size[1], group), func(t *testing.T) {
				o := testOptions()
				o.Probes = allProbeNames
				o.Now = func() time.Time { return t0.Add(21 * time.Second) }
				var steps []step
				if group == "by-host" {
					steps = append(steps, press1("g", ""))
				}
				m := script(t, NewLive(o), size[0], size[1], []tea.Msg{EventsMsg(hostsSession())}, steps...)
				s := screen(t, m)
				for _, want := range []string{"1 db-7.prod · iostat", "r1 +3.002s", "r2 -0.004s LOST", "CRIT 04:00:18 r2 host.lost",
					"db-7.prod io.saturated"} {
					if !strings.Contains(s, want) {
						t.Errorf("the screen lacks %q:\n%s", want, s)
					}
				}
				second := "2 r1 · iostat" // by probe: iostat on every host first
				if group == "by-host" {
					second = "2 db-7.prod · signals"
				}
				if !strings.Contains(s, second) {
					t.Errorf("pane 2 should be %q:\n%s", second, s)
				}
				if !strings.Contains(s, "panes: ") || !strings.Contains(s, "db-7.prod·") {
					t.Errorf("the panes that do not fit should be named with their host:\n%s", s)
				}
				golden.RequireEqual(t, s)
			})
		}
	}
}

// TestHostsPaneOrder: g regroups by host and back, the focus staying on
// its pane; each (host, probe) has its own pane, whatever order the
// hosts' events came in.
func TestHostsPaneOrder(t *testing.T) {
	m := hostsModel(120, 40)
	names := func(m Model) []string {
		var out []string
		for _, s := range m.panes.slots {
			out = append(out, s.host+"/"+s.probe)
		}
		return out
	}
	got := names(m)
	if len(got) != 24 || got[0] != "/iostat" || got[1] != "r1/iostat" || got[2] != "r2/iostat" || got[3] != "/signals" || got[23] != "r2/coredump" {
		t.Fatalf("by probe: %v", got)
	}
	m = typeKeys(m, "tab", "tab", "tab", "tab") // r1's signals
	if s := m.panes.slots[m.panes.Focused()]; s.host != "r1" || s.probe != "signals" {
		t.Fatalf("focus on %s/%s", s.host, s.probe)
	}
	m = typeKeys(m, "g")
	got = names(m)
	if !m.panes.ByHost() || got[0] != "/iostat" || got[7] != "/coredump" || got[8] != "r1/iostat" || got[16] != "r2/iostat" {
		t.Fatalf("by host: %v", got)
	}
	if s := m.panes.slots[m.panes.Focused()]; s.host != "r1" || s.probe != "signals" {
		t.Errorf("regrouping moved the focus to %s/%s", s.host, s.probe)
	}
	for i, s := range m.panes.slots {
		if m.panes.IndexOn(s.host, s.probe) != i {
			t.Fatalf("the index is stale after regrouping: %s/%s at %d", s.host, s.probe, i)
		}
	}
	if m = typeKeys(m, "G"); m.panes.ByHost() {
		t.Error("G should group by probe again")
	}
	// The same events in another order make the same panes.
	evs := hostsSession()
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	o := testOptions()
	o.Probes = allProbeNames
	rev := update(NewLive(o), tea.WindowSizeMsg{Width: 120, Height: 40}, EventsMsg(evs))
	if strings.Join(names(rev), " ") != strings.Join(names(hostsModel(120, 40)), " ") {
		t.Errorf("the pane order depends on the events' order:\n%v\n%v", names(rev), names(hostsModel(120, 40)))
	}
}

// TestOneHostIsUnchanged: with events of the local host only, titles name
// no host, g is not the grouping key and the strip names no host.
func TestOneHostIsUnchanged(t *testing.T) {
	m := allProbes(120, 40)
	if m.panes.Named() || m.keys.Group.Enabled() || strings.Contains(screen(t, m), "db-7.prod ·") {
		t.Fatalf("a single host's screen names hosts:\n%s", screen(t, m))
	}
	if m = typeKeys(m, "g"); m.panes.ByHost() {
		t.Error("g regrouped a single host's panes")
	}
}

// TestHostsFocusedPaneShown: 3 hosts × 8 probes at 80×24, most panes do
// not fit; tabbing through all of them, the focused one is always drawn
// and the line under the grid counts the others left out.
func TestHostsFocusedPaneShown(t *testing.T) {
	m := hostsModel(80, 24)
	for i := range m.panes.Len() {
		if m.panes.Focused() != i {
			t.Fatalf("tab %d focused %d", i, m.panes.Focused())
		}
		s := screen(t, m)
		cells, hidden := m.panes.grid()
		drawn := slices.ContainsFunc(cells, func(c cell) bool { return c.pane == i })
		if title := fmt.Sprintf("━ %d ", i+1); !drawn || !strings.Contains(s, title) { // the focused pane's border is heavy
			t.Fatalf("the focused pane %d (%s) is not drawn:\n%s", i+1, m.panes.hosts.name(m.panes.slots[i]), s)
		}
		if len(cells)+len(hidden) != 24 || !strings.Contains(s, fmt.Sprintf("+%d panes: ", len(hidden))) {
			t.Fatalf("%d drawn, %d named hidden:\n%s", len(cells), len(hidden), s)
		}
		m = typeKeys(m, "tab")
	}
}

// TestStripConditionsPerHost: the same condition (one key) raised on two
// hosts is two lines; clearing it on one leaves the other's open.
func TestStripConditionsPerHost(t *testing.T) {
	raise := func(host string, s int, state string) event.Event {
		ev := event.New(t0.Add(time.Duration(s)*time.Second), "iostat", &event.Finding{Finding: "io.saturated",
			Severity: event.Critical, Summary: "sdb saturated", Key: "io.saturated sdb", State: state})
		ev.Host = host
		return ev
	}
	st := testOptions().Theme.Styles
	strip := newFindingStrip(paneEnv{st: &st, loc: time.UTC}).SetSize(100, 5)
	for _, ev := range []event.Event{raise("", 1, ""), raise("r1", 2, ""), raise("r1", 3, event.FindingCleared)} {
		strip = strip.Add(ev)
	}
	if strip.Len() != 2 {
		t.Fatalf("%d lines, want one per host", strip.Len())
	}
	order := strip.ordered()
	if order[0].host != "" || order[0].cleared() || order[1].host != "r1" || !order[1].cleared() {
		t.Errorf("the local condition should stay open, r1's be cleared: %+v %+v", order[0], order[1])
	}
	if v := ansi.Strip(strip.NameHosts("db-7").View()); !strings.Contains(v, "db-7 io.saturated") || !strings.Contains(v, "r1 io.saturated") {
		t.Errorf("the lines should name their hosts:\n%s", v)
	}
}

// TestFindingOfAHostGoesToItsPane: the opened finding names its host; g
// focuses its probe's pane on that host and moves every host's timelines
// to its moment. g on the focused strip does the same without opening it.
func TestFindingOfAHostGoesToItsPane(t *testing.T) {
	for _, open := range []bool{true, false} {
		m := hostsModel(120, 40)
		m = typeKeys(m, "0")
		for m.strip.Selected().name != "packet.gap" {
			m = typeKeys(m, "down")
		}
		if open {
			m = typeKeys(m, "enter")
			s := screen(t, m)
			if !strings.Contains(s, "WARN packet.gap · r1 · packets · raised 04:00:09") || !strings.Contains(s, "g go to 8 r1 · packets at 04:00:09") {
				t.Fatalf("the opened finding should name r1:\n%s", s)
			}
		}
		m = typeKeys(m, "g")
		if s := m.panes.slots[m.panes.Focused()]; s.host != "r1" || s.probe != "packets" || m.detail != nil || !m.freeze.Frozen() {
			t.Fatalf("open %v: g focused %s/%s, detail %v, frozen %v", open, s.host, s.probe, m.detail != nil, m.freeze.Frozen())
		}
		for _, h := range []string{"", "r1", "r2"} {
			p := m.panes.slots[m.panes.IndexOn(h, "packets")].pane.(packetsPane)
			if !p.tl.pinned {
				t.Errorf("open %v: %q's packets timeline did not move to the moment", open, h)
			}
		}
	}
}

// TestReplayGroupingKey: in a replay, g still goes to a time; G groups.
func TestReplayGroupingKey(t *testing.T) {
	evs := hostsSession()
	o := testOptions()
	o.Probes = allProbeNames
	m := NewReplay(o, newFakeSource(evs), findingsOf(evs))
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40}, replayInitMsg{})
	m = update(m, press("end"))
	if !m.panes.Named() {
		t.Fatal("the replay made no pane of another host")
	}
	if m = typeKeys(m, "g"); !m.replay.Editing() || m.panes.ByHost() {
		t.Fatalf("g in a replay: editing %v, by host %v", m.replay.Editing(), m.panes.ByHost())
	}
	m = typeKeys(m, "esc", "G")
	if !m.panes.ByHost() {
		t.Error("G should group a replay's panes by host")
	}
	if s := screen(t, m); !strings.Contains(s, "r2 -0.004s LOST") {
		t.Errorf("the replay's status line should show r2's offset and LOST:\n%s", s)
	}
	help := typeKeys(m, "?").helpBody()
	if !strings.Contains(help, "group the panes by host") || strings.Count(help, "packets (every host)") != 1 {
		t.Errorf("the help should list G, and each probe's keys once:\n%s", help)
	}
}

// TestRemoteProcessIsNotReadHere: Enter on a row of r1's signals pane, a
// and d on it, and picking one of r1's processes in the inspector's list
// never read the local /proc nor trace a local pid: one line says the
// process is on r1. The same keys on the local host's pane do both.
func TestRemoteProcessIsNotReadHere(t *testing.T) {
	var reads, traces []int
	o := testOptions()
	o.Probes = []string{"signals"}
	o.Now = func() time.Time { return t0.Add(6 * time.Second) }
	o.Inspect = func(pid int) (*schema.ProcessSnapshot, error) {
		reads = append(reads, pid)
		return &schema.ProcessSnapshot{PID: pid, Comm: "local"}, nil
	}
	o.Trace = func(pid int, attach bool) error { traces = append(traces, pid); return nil }
	o.Save = func(event.Event) error { return nil }
	evs := append(signalsSession(), withHost("r1", signalsSession())...)
	sortByTime(evs)
	live := update(NewLive(o), tea.WindowSizeMsg{Width: 120, Height: 40}, EventsMsg(evs))

	m := typeKeys(live, "2", "up") // r1's pane, its newest row: 4411 sent SIGUSR1 to 812
	if s := m.panes.slots[m.panes.Focused()]; s.host != "r1" {
		t.Fatalf("pane 2 is %s/%s", s.host, s.probe)
	}
	m = pressAll(m, "enter")
	want := "process inspector: pid 812 is on r1; only the local host's processes can be opened"
	if s := screen(t, m); m.insp.Active() || !strings.Contains(s, want) {
		t.Errorf("enter on r1's row: inspector open %v, screen:\n%s", m.insp.Active(), s)
	}
	for _, k := range []string{"a", "d"} {
		m = pressAll(m, k)
		if s := screen(t, m); !strings.Contains(s, traceVerb(k == "a")+": pid 812 is on r1; only the local host's processes can be traced") {
			t.Errorf("%s on r1's row:\n%s", k, s)
		}
	}
	m = pressAll(m, "i") // the picker lists r1's processes first, marked r1
	if len(m.insp.refs) == 0 || m.insp.refs[0].host != "r1" || !strings.Contains(screen(t, m), "r1: ") {
		t.Fatalf("the picker should offer r1's processes, marked: %+v\n%s", m.insp.refs, screen(t, m))
	}
	m = pressAll(m, "enter")
	if s := screen(t, m); m.insp.mode != inspectPicking || !strings.Contains(s, want) {
		t.Errorf("picking r1's 812: mode %d\n%s", m.insp.mode, s)
	}
	if len(reads) != 0 || len(traces) != 0 {
		t.Fatalf("another host's pid was read (%v) or traced (%v) here", reads, traces)
	}

	// The local pane: the same keys read and trace (so the above can fail).
	m = typeKeys(live, "1", "up")
	m = pressAll(pressAll(pressAll(m, "a"), "enter"), "enter") // the row names 812 and its sender: pick 812
	if len(reads) == 0 || len(traces) == 0 || reads[0] != 812 || traces[0] != 812 {
		t.Errorf("the local row: reads %v traces %v", reads, traces)
	}
}

// TestStatusLineHosts: the other hosts' offsets and LOST fit any width,
// never wrapping; when not all fit, the lost ones are kept and the others
// counted; without colour LOST still reads.
func TestStatusLineHosts(t *testing.T) {
	o := testOptions()
	o.Theme = themes.Auto([]string{"NO_COLOR=1"})
	o.Probes = []string{"iostat"}
	var evs []event.Event
	for i := range 12 {
		h := fmt.Sprintf("host-%02d", i)
		evs = append(evs, withHost(h, []event.Event{event.New(t0, schema.ProbeRemote, &schema.Clock{Host: h, Offset: time.Duration(i) * time.Millisecond})})...)
	}
	lost := event.New(t0.Add(time.Second), schema.ProbeRemote, &event.Finding{Finding: schema.FindingHostLost, Severity: event.Critical,
		Key: "host.lost host-11", Data: map[string]any{"host": "host-11"}})
	evs = append(evs, lost)
	for w := 40; w <= 240; w += 7 {
		m := update(NewLive(o), tea.WindowSizeMsg{Width: w, Height: 24}, EventsMsg(evs))
		line := m.statusView()
		if lipgloss.Width(line) > w || strings.Contains(line, "\n") {
			t.Fatalf("at %d the status line is %d wide: %q", w, lipgloss.Width(line), line)
		}
		plain := ansi.Strip(line)
		if w >= 60 && !strings.Contains(plain, "host-11 +0.011s LOST") {
			t.Errorf("at %d the lost host should show: %q", w, plain)
		}
		if w < 200 && w >= 60 && !strings.Contains(plain, "+") {
			t.Errorf("at %d the hosts left out should be counted: %q", w, plain)
		}
	}
	back := lost
	back.Time = t0.Add(2 * time.Second)
	back.Body = &event.Finding{Finding: schema.FindingHostBack, Severity: event.Info, Data: schema.HostLostData{Host: "host-11", Down: time.Second}}
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 320, Height: 24}, EventsMsg(append(evs, back)))
	if plain := ansi.Strip(m.statusView()); strings.Contains(plain, "LOST") || !strings.Contains(plain, "host-11 +0.011s") {
		t.Errorf("host.back should clear LOST: %q", plain)
	}
}

// TestReplayOfAMultiHostRecording: the three hosts' events written to a
// real .stk (each with its host), replayed through the real Player with
// findings from the real detectors, make the same panes, in the same
// order, as the live session did, and the status line the same offsets.
func TestReplayOfAMultiHostRecording(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7.prod", Started: t0, Interval: time.Second},
		sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range hostsSession() {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var finds []event.Event
	if err := engine.Replay(r.Iter(time.Time{}), findings.All(findings.Config{}), func(ev event.Event) bool {
		if _, ok := event.As[event.Finding](ev); ok {
			finds = append(finds, ev)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	isFinding := func(ev event.Event) bool { _, ok := event.As[event.Finding](ev); return ok }
	o := testOptions()
	o.Probes = allProbeNames
	m := NewReplay(o, sessions.NewPlayer(r, 2*time.Minute, isFinding), finds)
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40}, replayInitMsg{})
	m = update(m, press("end"))

	titles := func(m Model) []string {
		var out []string
		for i := range m.panes.Len() {
			out = append(out, m.panes.Label(i))
		}
		return out
	}
	live := hostsModel(120, 40)
	if got, want := strings.Join(titles(m), ", "), strings.Join(titles(live), ", "); got != want {
		t.Errorf("replay panes:\n%s\nlive panes:\n%s", got, want)
	}
	s := screen(t, m)
	for _, want := range []string{"r1 +3.002s", "r2 -0.004s", "2 r1 · iostat", "r1 conntrack.dropping", "r2 host.lost"} {
		if !strings.Contains(s, want) {
			t.Errorf("the replay lacks %q:\n%s", want, s)
		}
	}
}

// TestRemoteSourcesHaveNoPane: the engine's status of an --ssh source
// (probe "remote", no host) makes no pane of its own on this host; with
// --no-local there are no local panes at all.
func TestRemoteSourcesHaveNoPane(t *testing.T) {
	o := testOptions()
	o.Probes = nil
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 120, Height: 40}, EventsMsg([]event.Event{
		event.New(t0, schema.ProbeRemote, &event.ProbeStatus{Status: event.StatusOK}),
		withHost("r1", []event.Event{event.New(t0, "iostat", &event.ProbeStatus{Status: event.StatusOK})})[0],
	}))
	if n := m.panes.Len(); n != 1 {
		t.Fatalf("%d panes, want only r1's iostat:\n%s", n, screen(t, m))
	}
}
