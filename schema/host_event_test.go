package schema

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

var ht0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

func hostSample(busy, steal float64, avail uint64, psi *HostPSI) *HostSample {
	return &HostSample{IntervalS: 2, Load1: busy / 10, ForksPerS: busy,
		CPU: HostCPU{CPUs: 2, User: busy, Steal: steal, Idle: 100 - busy - steal},
		Mem: HostMem{TotalBytes: 8 << 30, AvailableBytes: avail, UsedBytes: 8<<30 - avail, SwapInPerS: 1 << 20, SwapOutPerS: 2 << 20},
		PSI: psi}
}

// The summary is the peaks and the time-weighted mean busy, over samples
// of 2 s; a session without PSI says so.
func TestHostSummary(t *testing.T) {
	var s HostSummary
	s.Observe(event.New(ht0, ProbeHost, hostSample(20, 0, 6<<30, &HostPSI{CPU: &PSIResource{SomeAvg10: 5}, Memory: &PSIResource{SomeAvg10: 40}})))
	s.Observe(event.New(ht0.Add(2*time.Second), ProbeHost, hostSample(60, 15, 2<<30, &HostPSI{CPU: &PSIResource{SomeAvg10: 30}, Memory: &PSIResource{SomeAvg10: 10}})))
	s.Observe(event.New(ht0, ProbeHost, &HostInfo{CPUs: 2})) // not a sample
	r := s.Result().(HostSummaryResult)
	if r.Samples != 2 || r.Seconds != 4 || r.AvgBusyPct != 40 || r.PeakBusyPct != 60 || r.PeakStealPct != 15 ||
		r.MinAvailableBytes != 2<<30 || r.SwapInBytes != 4<<20 || r.SwapOutBytes != 8<<20 || r.PeakForksPerS != 60 ||
		r.PeakPSISomeAvg10["cpu"] != 30 || r.PeakPSISomeAvg10["memory"] != 40 || r.PeakPSIUnavailable {
		t.Errorf("%+v", r)
	}
	if l := strings.Join(s.Lines(), "\n"); !strings.Contains(l, "CPU busy 40% on average, peak 60%") || !strings.Contains(l, "cpu 30.0% memory 40.0%") {
		t.Errorf("lines:\n%s", l)
	}
	var bare HostSummary
	bare.Observe(event.New(ht0, ProbeHost, hostSample(10, 0, 1<<30, nil)))
	if l := bare.Lines(); !bare.Result().(HostSummaryResult).PeakPSIUnavailable || !strings.Contains(strings.Join(l, "\n"), "no pressure stall information") {
		t.Errorf("without PSI: %v", l)
	}
}

// A sample says in one line what the host was doing, naming the busiest
// process; host_info says what it lacks.
func TestHostDescribesItself(t *testing.T) {
	s := hostSample(60, 15, 2<<30, &HostPSI{Memory: &PSIResource{SomeAvg10: 42.5}})
	s.Top = []HostProc{{PID: 7, Comm: "low", CPUPct: 1}, {PID: 4300, Comm: "burner", CPUPct: 180}}
	d := s.Describe()
	for _, want := range []string{"CPU 60% busy", "steal 15", "6.0 GiB used of 8.0 GiB", "swap in 1.0 MiB/s out 2.0 MiB/s",
		"PSI some avg10 memory 42.5%", "most CPU burner (4300) 180%"} {
		if !strings.Contains(d, want) {
			t.Errorf("%q lacks %q", d, want)
		}
	}
	i := HostInfo{CPUs: 4, ForksFrom: "scan", Unavailable: []HostPart{{Part: "psi", Reason: "no /proc/pressure"}}}
	if d := i.Describe(); d != "4 CPUs, forking parents from the scan; no psi: no /proc/pressure" {
		t.Errorf("info: %q", d)
	}
}

// SortHostProcs orders by the measure, then RSS, then pid.
func TestSortHostProcs(t *testing.T) {
	ps := []HostProc{{PID: 3, RSSBytes: 1}, {PID: 1, CPUPct: 5, RSSBytes: 9, WriteBytesPerS: 4}, {PID: 2, RSSBytes: 1, ReadBytesPerS: 8}}
	var got []int
	for _, by := range []HostSort{HostByCPU, HostByMem, HostByIO} {
		SortHostProcs(ps, by)
		for _, p := range ps {
			got = append(got, p.PID)
		}
	}
	if want := []int{1, 2, 3, 1, 2, 3, 2, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("orders %v, want %v", got, want)
	}
}
