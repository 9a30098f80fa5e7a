package handoff

import (
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// A probe the handoff has never heard of, made up here the way a new
// probe's schema file would make it: a sample that describes and plots
// itself, an occurrence that is counted, and a setting that only
// describes itself.
const (
	fanProbe     = "test-fans"
	kindFanSpeed = "test.fan_speed"
	kindFanStall = "test.fan_stall"
	kindFanCurve = "test.fan_curve"
)

type fanSpeed struct {
	RPM map[string]float64 `json:"rpm"`
}

func (fanSpeed) EventKind() string { return kindFanSpeed }

func (f fanSpeed) Describe() string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(f.RPM)) {
		parts = append(parts, fmt.Sprintf("%s at %.0f rpm", name, f.RPM[name]))
	}
	return strings.Join(parts, ", ")
}

var fanChart = event.ChartSpec{Title: "speed by fan", Unit: "rpm", Fold: event.FoldGauge, First: []string{"cpu"}}

func (f fanSpeed) Plot(t time.Time, p event.Plot) {
	c := p.Chart(fanChart)
	for name, rpm := range f.RPM {
		c.Series(name).Add(t, rpm)
	}
}

type fanStall struct {
	Fan string `json:"fan"`
}

func (fanStall) EventKind() string { return kindFanStall }

func (s fanStall) Describe() string { return s.Fan + " stalled" }

func (fanStall) Plot(t time.Time, p event.Plot) {
	p.Chart(event.ChartSpec{Title: "stalls {per}", Unit: "stalls", Fold: event.FoldCount}).Series("stalls").Add(t, 1)
}

type fanCurve struct {
	Curve string `json:"curve"`
}

func (fanCurve) EventKind() string { return kindFanCurve }

func (c fanCurve) Describe() string { return "curve set to " + c.Curve }

func init() {
	event.Register(kindFanSpeed, func() event.Body { return &fanSpeed{} })
	event.Register(kindFanStall, func() event.Body { return &fanStall{} }, event.Traits{Occurrence: true})
	event.Register(kindFanCurve, func() event.Body { return &fanCurve{} })
	schema.RegisterProbe(schema.ProbeInfo{Name: fanProbe, Rank: 1000, Kinds: []string{kindFanSpeed, kindFanStall, kindFanCurve}})
}

// The handoff describes and charts a kind it has no code for, as the kind
// says (event.Describer, event.Plotter), read back from a file; the
// probe's kind that does not plot adds no chart, and since its probe's
// other kinds plot, its events are not counted either.
func TestHandoffShowsAKindItDoesNotKnow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fans.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(at time.Time, b event.Body) {
		if err := w.Write(event.New(at, fanProbe, b)); err != nil {
			t.Fatal(err)
		}
	}
	write(t0, &event.ProbeStatus{Status: event.StatusOK})
	write(t0, &fanCurve{Curve: "quiet"})
	for s := 0; s <= 20; s++ {
		// The case fan spins faster than the cpu fan, which stalls at 10 s.
		cpu := 2000.0
		if s == 10 {
			cpu = 0
			write(at(s*1000), &fanStall{Fan: "cpu"})
		}
		write(at(s*1000), &fanSpeed{RPM: map[string]float64{"cpu": cpu, "case": 3000 + float64(s)}})
	}
	write(at(10_000), &event.Finding{Finding: "test.fan_stalled", Severity: event.Warn, Summary: "the cpu fan stalled"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := build(t, path, Options{})

	// Described: the finding's generic evidence is its probe's events.
	f := finding(t, rep, "test.fan_stalled")
	var rows []string
	for _, r := range f.Evidence.Rows {
		rows = append(rows, strings.Join(r.Cells, " | "))
	}
	for _, want := range []string{kindFanStall + " | cpu stalled", kindFanSpeed + " | case at 3010 rpm, cpu at 0 rpm"} {
		if !slices.Contains(rows, want) {
			t.Errorf("evidence rows %q lack %q", rows, want)
		}
	}

	// Charted: the two charts the kinds plot, and no count of events.
	var charts []Chart
	for _, p := range rep.Summaries {
		if p.Name == fanProbe {
			charts = p.Charts
		}
	}
	if len(charts) != 2 {
		t.Fatalf("%d charts for %s: %+v", len(charts), fanProbe, charts)
	}
	speed, stalls := charts[0], charts[1]
	if speed.Title != "speed by fan" || speed.Unit != "rpm" || len(speed.Series) != 2 {
		t.Fatalf("speed chart %+v", speed)
	}
	// "cpu" is drawn first, as the spec says, though "case" peaks higher.
	cpu, fan := speed.Series[0], speed.Series[1]
	if cpu.Name != "cpu" || fan.Name != "case" || cpu.Values[10] != 0 || cpu.Values[9] != 2000 || fan.Peak() != 3020 {
		t.Errorf("speed series %+v", speed.Series)
	}
	// 20 s in 20 points: the stall is counted per second where it was.
	if stalls.Title != "stalls per second" || stalls.Unit != "stalls/s" || len(stalls.Series) != 1 ||
		stalls.Series[0].Values[10] != 1 || stalls.Series[0].Peak() != 1 {
		t.Errorf("stalls chart %+v", stalls)
	}

	md := markdown(t, rep)
	for _, want := range []string{"speed by fan", "stalls per second", "cpu stalled"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
}

// A probe of this build is charted by its kinds that plot themselves
// alone: the signals probe tracing processes that got no signal, and the
// packets probe announcing a flow and its capture's statistics, have no
// chart; the modules and coredump probes, none of whose kinds plots,
// get a count of their events.
func TestProbesChartOnlyWhatTheirKindsPlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quiet.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(ms int, probe string, b event.Body) {
		if err := w.Write(event.New(at(ms), probe, b)); err != nil {
			t.Fatal(err)
		}
	}
	for s := 0; s <= 10; s++ {
		write(s*1000, "signals", &schema.Trace{PID: 100 + s, Comm: "gimli", State: schema.TraceAttached, Threads: 1})
		write(s*1000, "signals", &schema.Fork{PID: 100 + s, Comm: "gimli", ChildPID: 200 + s, How: "clone"})
		write(s*1000, "packets", &packet.FlowInfo{ID: uint32(s), Iface: "eth0", Proto: "udp", Src: "10.0.0.1:53", Dst: "10.0.0.2:53"})
		write(s*1000, "packets", &packet.CaptureStats{Iface: "eth0", IntervalS: 1, Packets: 10})
		write(s*1000, "modules", &schema.ModuleLoad{Module: schema.Module{Module: fmt.Sprintf("m%d", s), Size: 4096}})
		write(s*1000, "coredump", &schema.CoreReadiness{CorePattern: "core", Processes: 10})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, p := range build(t, path, Options{}).Summaries {
		for _, c := range p.Charts {
			got[p.Name] = append(got[p.Name], c.Title)
		}
	}
	want := map[string][]string{"modules": {"events per second"}, "coredump": {"events per second"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("charts %q, want %q", got, want)
	}
}
