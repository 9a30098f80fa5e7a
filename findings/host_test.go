package findings

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// hostAt is a 1 s host sample at t0+sec: an idle 2-CPU host with PSI at
// zero, changed by mod.
func hostAt(sec int, mod func(s *schema.HostSample)) event.Event {
	s := &schema.HostSample{IntervalS: 1, CPU: schema.HostCPU{CPUs: 2, Idle: 100},
		PSI: &schema.HostPSI{CPU: &schema.PSIResource{}, Memory: &schema.PSIResource{}, IO: &schema.PSIResource{}},
		Top: []schema.HostProc{
			{PID: 1, Comm: "systemd", User: "root", RSSBytes: 12 << 20},
			{PID: 700, Comm: "postgres", User: "postgres", CPUPct: 3, RSSBytes: 900 << 20, WriteBytesPerS: 1 << 20},
			{PID: 4242, Comm: "hog", User: "bob", CPUPct: 190, RSSBytes: 200 << 20},
		}}
	if mod != nil {
		mod(s)
	}
	return event.New(t0.Add(time.Duration(sec)*time.Second), schema.ProbeHost, s)
}

// hostScript is samples 0..n-1, each changed by mod(i, s).
func hostScript(n int, mod func(i int, s *schema.HostSample)) []event.Event {
	var evs []event.Event
	for i := range n {
		evs = append(evs, hostAt(i, func(s *schema.HostSample) { mod(i, s) }))
	}
	return evs
}

// hostFindings runs a fresh host detector over evs.
func hostFindings(evs []event.Event) []*event.Finding {
	var out []*event.Finding
	for _, ev := range Run([]Detector{NewHost()}, evs) {
		f, _ := event.As[event.Finding](ev)
		out = append(out, f)
	}
	return out
}

func hostStates(fs []*event.Finding) string {
	var s []string
	for _, f := range fs {
		st := f.State
		if st == "" {
			st = "raised"
		}
		s = append(s, f.Finding+" "+st+" "+f.Severity.String())
	}
	return strings.Join(s, "; ")
}

// CPU pressure that persists is raised after 5 s over 20%, turns
// critical past 50% at once, and clears 10 s after it falls under 15%,
// naming the process with the most CPU.
func TestHostPressurePersistsThenClears(t *testing.T) {
	evs := hostScript(60, func(i int, s *schema.HostSample) {
		switch {
		case i >= 10 && i < 20:
			s.PSI.CPU.SomeAvg10 = 30
		case i >= 20 && i < 30:
			s.PSI.CPU.SomeAvg10 = 70
		case i >= 30 && i < 35:
			s.PSI.CPU.SomeAvg10 = 17 // under the line, over the clear line: still held
		}
	})
	fs := hostFindings(evs)
	want := "host.pressure raised warn; host.pressure update critical; host.pressure update warn; host.pressure cleared warn"
	if got := hostStates(fs); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	raised := fs[0]
	d := raised.Data.(HostPressureData)
	if raised.Key != "host.pressure cpu" || d.Resource != "cpu" || d.Seconds != 5 || len(d.Top) == 0 || d.Top[0].PID != 4242 {
		t.Errorf("raised %+v", raised)
	}
	if !strings.Contains(raised.Summary, "hog (pid 4242, 190% CPU)") {
		t.Errorf("summary %q does not name the hog", raised.Summary)
	}
	if peak := fs[len(fs)-1].Data.(HostPressureData).PeakSomeAvg10; peak != 70 {
		t.Errorf("peak %v, want 70", peak)
	}
	if at := evs[0].Time.Add(44 * time.Second); !fs[len(fs)-1].Since.Before(at) {
		t.Errorf("since %v", fs[len(fs)-1].Since)
	}
}

// Pressure that flaps (4 s over, 1 s under) never stays 5 s: nothing.
func TestHostPressureFlapsIsNotRaised(t *testing.T) {
	evs := hostScript(60, func(i int, s *schema.HostSample) {
		if i%5 != 4 {
			s.PSI.IO.SomeAvg10 = 40
		}
	})
	if fs := hostFindings(evs); len(fs) != 0 {
		t.Errorf("flapping pressure raised %s", hostStates(fs))
	}
}

// full avg10 of 10% is critical by itself; memory pressure names the
// processes of the pressured cgroup first, then by RSS.
func TestHostMemoryPressureNamesTheCgroupAndItsProcess(t *testing.T) {
	evs := hostScript(8, func(i int, s *schema.HostSample) {
		s.PSI.Memory.SomeAvg10, s.PSI.Memory.FullAvg10 = 18, 12
		s.PSI.Memory.Cgroup = &schema.PSICgroup{Path: "/stk.slice/hog.scope", SomeAvg10: 40, PIDs: []int{4242}}
	})
	fs := hostFindings(evs)
	if len(fs) != 1 || fs[0].Severity != event.Critical {
		t.Fatalf("%s", hostStates(fs))
	}
	d := fs[0].Data.(HostPressureData)
	if d.Cgroup != "/stk.slice/hog.scope" || d.CgroupSomeAvg10 != 40 || len(d.Top) != 3 || d.Top[0].PID != 4242 || d.Top[1].PID != 700 {
		t.Errorf("data %+v", d)
	}
	if !strings.Contains(fs[0].Summary, "cgroup /stk.slice/hog.scope") {
		t.Errorf("summary %q", fs[0].Summary)
	}
	if e := EvidenceOf(fs[0]); e.About.PID != 4242 || e.Of != EvidenceNearest {
		t.Errorf("evidence %+v", e)
	}
}

// Steal over 10% for 10 s is raised; 9 s is not.
func TestHostCPUSteal(t *testing.T) {
	steal := func(from, to int) []event.Event {
		return hostScript(40, func(i int, s *schema.HostSample) {
			if i >= from && i < to {
				s.CPU.Steal, s.CPU.Idle = 25, 75
			}
		})
	}
	if fs := hostFindings(steal(5, 14)); len(fs) != 0 {
		t.Errorf("9 s of steal: %s", hostStates(fs))
	}
	fs := hostFindings(steal(5, 25))
	if got := hostStates(fs); got != "host.cpu_steal raised warn; host.cpu_steal cleared warn" {
		t.Fatalf("%s", got)
	}
	d := fs[0].Data.(HostStealData)
	if d.StealPct != 25 || d.MeanPct != 25 || d.Seconds != 10 || d.CPUs != 2 {
		t.Errorf("data %+v", d)
	}
}

// Swapping both ways for 5 s is a storm, naming who faults; only out is not.
func TestHostSwapStorm(t *testing.T) {
	swap := func(in float64) []event.Event {
		return hostScript(30, func(i int, s *schema.HostSample) {
			if i >= 5 && i < 15 {
				s.Mem.SwapInPerS, s.Mem.SwapOutPerS = in, 20<<20
				s.Mem.SwapUsedBytes, s.Mem.SwapTotalBytes = 1<<30, 2<<30
				s.Top[1].MajfltPerS = 800
			}
		})
	}
	if fs := hostFindings(swap(0)); len(fs) != 0 {
		t.Errorf("swap-out alone: %s", hostStates(fs))
	}
	fs := hostFindings(swap(12 << 20))
	if got := hostStates(fs); got != "host.swap_storm raised critical; host.swap_storm cleared critical" {
		t.Fatalf("%s", got)
	}
	d := fs[0].Data.(HostSwapData)
	if d.Seconds != 5 || len(d.Top) != 1 || d.Top[0].PID != 700 || d.Top[0].MajfltPerS != 800 {
		t.Errorf("data %+v", d)
	}
}

// A fork rate 10× the session's median for 3 s is a storm naming the
// parent that forked most over it; before 10 samples of history nothing
// is judged.
func TestHostForkStorm(t *testing.T) {
	evs := hostScript(60, func(i int, s *schema.HostSample) {
		s.ForksPerS = 4
		if i >= 20 && i < 30 {
			s.ForksPerS = 900
			s.Forkers = []schema.HostForker{{PID: 4300, Comm: "bash", ForksPerS: 850}, {PID: 1, Comm: "systemd", ForksPerS: 30}}
			if i == 25 {
				s.Forkers = nil // an interval the counter saw nothing of
			}
		}
	})
	fs := hostFindings(evs)
	if got := hostStates(fs); got != "host.fork_storm raised warn; host.fork_storm cleared warn" {
		t.Fatalf("%s", got)
	}
	d := fs[0].Data.(HostForkData)
	if d.ForksPerS != 900 || d.MedianPerS != 4 || d.Seconds != 3 || d.ParentPID != 4300 || d.ParentComm != "bash" || d.ParentForksPerS != 850 {
		t.Errorf("data %+v", d)
	}
	if !strings.Contains(fs[0].Summary, "bash (pid 4300) forks most") {
		t.Errorf("summary %q", fs[0].Summary)
	}
	if e := EvidenceOf(fs[0]); e.About.PID != 4300 {
		t.Errorf("evidence about %+v", e.About)
	}
	early := hostScript(20, func(i int, s *schema.HostSample) {
		s.ForksPerS = 4
		if i >= 5 {
			s.ForksPerS = 900
		}
	})
	if fs := hostFindings(early[:9]); len(fs) != 0 {
		t.Errorf("judged before 10 samples of history: %s", hostStates(fs))
	}
	// A busy host (median 200/s) forking 900/s is not a storm.
	busy := hostScript(40, func(i int, s *schema.HostSample) {
		s.ForksPerS = 200
		if i >= 20 {
			s.ForksPerS = 900
		}
	})
	if fs := hostFindings(busy); len(fs) != 0 {
		t.Errorf("4.5× the median: %s", hostStates(fs))
	}
}

// A hole in the samples breaks a run: 3 s over, 30 s missing, 3 s over
// is not 5 s of pressure.
func TestHostPressureRunDoesNotSpanAHole(t *testing.T) {
	var evs []event.Event
	for _, sec := range []int{0, 1, 2, 33, 34, 35} {
		evs = append(evs, hostAt(sec, func(s *schema.HostSample) { s.PSI.CPU.SomeAvg10 = 90 }))
	}
	if fs := hostFindings(evs); len(fs) != 0 {
		t.Errorf("%s", hostStates(fs))
	}
}

// The host findings' data reads back from a recording as the types the
// detector made.
func TestHostFindingDataReadsBackTyped(t *testing.T) {
	evs := hostScript(30, func(i int, s *schema.HostSample) {
		s.PSI.Memory.SomeAvg10 = 60
		s.PSI.Memory.Cgroup = &schema.PSICgroup{Path: "/a", SomeAvg10: 61, PIDs: []int{4242}}
		s.CPU.Steal = 15
		s.Mem.SwapInPerS, s.Mem.SwapOutPerS = 2<<20, 2<<20
		s.ForksPerS = 3
		if i > 15 {
			s.ForksPerS = 300
			s.Forkers = []schema.HostForker{{PID: 9, Comm: "sh", ForksPerS: 290}}
		}
	})
	live := findingsOf(Run([]Detector{NewHost()}, evs))
	names := map[string]bool{}
	for _, ev := range live {
		f, _ := event.As[event.Finding](ev)
		names[f.Finding] = true
	}
	if len(names) != 4 {
		t.Fatalf("made %v", names)
	}
	got := recordAndRead(t, live)
	for i, ev := range got {
		f, _ := event.As[event.Finding](ev)
		want, _ := event.As[event.Finding](live[i])
		if !reflect.DeepEqual(f.Data, want.Data) {
			t.Errorf("%s: read back %T %+v, made %T %+v", f.Finding, f.Data, f.Data, want.Data, want.Data)
		}
	}
}
