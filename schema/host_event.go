package schema

// The host probe's events and summary: CPU by mode, memory, load, pressure
// stall information (PSI), context switches and forks, and the processes
// behind them, once per interval.

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/stakeout/stakeout/event"
)

// ProbeHost is the host probe's name.
const ProbeHost = "host"

// The host probe's kinds: a sample per interval, and what the probe can
// and cannot read here, once at start.
const (
	KindHost     = "host"
	KindHostInfo = "host_info"
)

// HostTopN is how many processes each ranking of a sample records: the N
// highest by %CPU, by RSS, by I/O bytes per second and by major faults
// per second (a ranking leaves out processes at zero). A sample's Top is
// their union, so at most 4×HostTopN processes, plus the few a pressured
// cgroup or a forking parent adds. A process that leaves every top N is
// simply no longer listed: that is not news.
const HostTopN = 5

// HostSample is one interval of the whole host. Rates are over the
// interval; percentages of CPU are of all CPUs' time together (they add up
// to 100), except a process's CPUPct, which is of one CPU as top shows it.
type HostSample struct {
	IntervalS float64 `json:"interval_s"`
	Load1     float64 `json:"load1"`
	Load5     float64 `json:"load5"`
	Load15    float64 `json:"load15"`
	Running   uint64  `json:"procs_running"`   // runnable tasks now (/proc/stat)
	Blocked   uint64  `json:"procs_blocked"`   // tasks in uninterruptible sleep now
	Procs     int     `json:"procs,omitempty"` // processes the scan saw; absent without a scan
	CPU       HostCPU `json:"cpu"`
	Mem       HostMem `json:"mem"`
	CtxtPerS  float64 `json:"ctxt_per_s"`
	// ForksPerS counts every fork and clone, threads included, as the
	// kernel's "processes" counter in /proc/stat does (vmstat -f).
	ForksPerS float64 `json:"forks_per_s"`
	// PSI is absent when the kernel has no pressure stall information.
	PSI *HostPSI `json:"psi,omitempty"`
	// Top is absent from a sample without a process scan: on a quiet
	// host the scan runs every fifth sample.
	Top []HostProc `json:"top,omitempty"`
	// Forkers are the parents that forked most in the interval, most first.
	Forkers []HostForker `json:"forkers,omitempty"`
}

func (HostSample) EventKind() string { return KindHost }

// HostCPU is the share of all CPUs' time in each mode over the interval,
// in percent, from /proc/stat (guest time is inside user and nice).
type HostCPU struct {
	CPUs    int     `json:"cpus"`
	User    float64 `json:"user"`
	Nice    float64 `json:"nice"`
	System  float64 `json:"system"`
	IOWait  float64 `json:"iowait"`
	IRQ     float64 `json:"irq"`
	SoftIRQ float64 `json:"softirq"`
	Steal   float64 `json:"steal"`
	Idle    float64 `json:"idle"`
}

// Busy is the share of CPU time doing work: everything but idle, iowait
// and steal.
func (c HostCPU) Busy() float64 { return c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ }

// HostMem is /proc/meminfo at the sample's time, and the swap and fault
// rates of /proc/vmstat over the interval.
type HostMem struct {
	TotalBytes     uint64 `json:"total_bytes"`
	FreeBytes      uint64 `json:"free_bytes"`
	AvailableBytes uint64 `json:"available_bytes"`
	// UsedBytes is total − available, as free(1) counts it since procps 4.
	UsedBytes    uint64 `json:"used_bytes"`
	BuffersBytes uint64 `json:"buffers_bytes"`
	// CachedBytes is the page cache and reclaimable slab (Cached +
	// SReclaimable), free(1)'s "cache".
	CachedBytes      uint64  `json:"cached_bytes"`
	DirtyBytes       uint64  `json:"dirty_bytes"`
	WritebackBytes   uint64  `json:"writeback_bytes"`
	SwapTotalBytes   uint64  `json:"swap_total_bytes"`
	SwapUsedBytes    uint64  `json:"swap_used_bytes"`
	SwapInPerS       float64 `json:"swap_in_bytes_per_s"`
	SwapOutPerS      float64 `json:"swap_out_bytes_per_s"`
	MajorFaultsPerS  float64 `json:"majflt_per_s"`
	AvailableUnknown bool    `json:"available_unknown,omitempty"` // no MemAvailable (before Linux 3.14): available is free + buffers + cached
}

// HostPSI is the pressure stall information of each resource; a resource
// the kernel does not report is absent.
type HostPSI struct {
	CPU    *PSIResource `json:"cpu,omitempty"`
	IO     *PSIResource `json:"io,omitempty"`
	Memory *PSIResource `json:"memory,omitempty"`
}

// PSIResources names the resources PSI reports, in display order.
var PSIResources = []string{"cpu", "memory", "io"}

// Of returns the named resource's figures, nil if absent.
func (p *HostPSI) Of(resource string) *PSIResource {
	if p == nil {
		return nil
	}
	switch resource {
	case "cpu":
		return p.CPU
	case "io":
		return p.IO
	case "memory":
		return p.Memory
	}
	return nil
}

// PSIResource is one resource's pressure: the kernel's 10 s and 60 s
// averages (percent of time some task, or all non-idle tasks, waited for
// it), and the share of this interval from the total stall time.
type PSIResource struct {
	SomeAvg10 float64 `json:"some_avg10"`
	SomeAvg60 float64 `json:"some_avg60"`
	SomePct   float64 `json:"some_pct"`
	FullAvg10 float64 `json:"full_avg10"`
	FullAvg60 float64 `json:"full_avg60"`
	FullPct   float64 `json:"full_pct"`
	// Cgroup is the cgroup v2 group under the most pressure for this
	// resource, looked for only while the host's some avg10 is at least
	// HostCgroupFrom.
	Cgroup *PSICgroup `json:"cgroup,omitempty"`
}

// HostCgroupFrom is the host's some avg10 (percent) from which the probe
// looks for the cgroup under the most pressure.
const HostCgroupFrom = 10.0

// PSICgroup names a cgroup v2 group and its pressure. The probe goes down
// from the root, each time into the child under the most pressure, while
// that child holds at least half its parent's.
type PSICgroup struct {
	Path      string  `json:"path"` // from the cgroup root: "/system.slice/db.service"
	SomeAvg10 float64 `json:"some_avg10"`
	FullAvg10 float64 `json:"full_avg10"`
	// PIDs are the group's own processes highest in the resource's
	// measure (CPU, RSS, I/O), at most 3; each is in the sample's Top.
	PIDs []int `json:"pids,omitempty"`
}

// HostProc is one process over the interval.
type HostProc struct {
	PID   int    `json:"pid"`
	PPID  int    `json:"ppid"`
	Comm  string `json:"comm"`
	User  string `json:"user"`  // the owner of /proc/PID (its effective uid), by name where /etc/passwd has it
	State string `json:"state"` // R, S, D, Z, T, … as in ps
	// CPUPct is percent of one CPU (a process with two busy threads shows
	// 200), as top shows it.
	CPUPct         float64 `json:"cpu_pct"`
	RSSBytes       uint64  `json:"rss_bytes"`
	ReadBytesPerS  float64 `json:"read_bytes_per_s"`  // storage reads (/proc/PID/io read_bytes)
	WriteBytesPerS float64 `json:"write_bytes_per_s"` // storage writes caused (write_bytes)
	MajfltPerS     float64 `json:"majflt_per_s"`      // major page faults (reads from disk or swap)
	Threads        int     `json:"threads"`
}

// IOBytesPerS is the process's storage reads and writes together.
func (p HostProc) IOBytesPerS() float64 { return p.ReadBytesPerS + p.WriteBytesPerS }

// HostForker is a parent and how often it forked (or cloned) in the interval.
type HostForker struct {
	PID       int     `json:"pid"`
	Comm      string  `json:"comm"`
	ForksPerS float64 `json:"forks_per_s"`
}

// HostSort is an order of a sample's processes.
type HostSort int

const (
	HostByCPU HostSort = iota
	HostByMem
	HostByIO
	HostByFaults
	HostSorts
)

var hostSortNames = [...]string{"cpu", "mem", "io", "faults"}

func (s HostSort) String() string {
	if s < 0 || s >= HostSorts {
		return fmt.Sprintf("sort(%d)", int(s))
	}
	return hostSortNames[s]
}

// Measure is p's value in the order s.
func (s HostSort) Measure(p HostProc) float64 {
	switch s {
	case HostByMem:
		return float64(p.RSSBytes)
	case HostByIO:
		return p.IOBytesPerS()
	case HostByFaults:
		return p.MajfltPerS
	}
	return p.CPUPct
}

// SortHostProcs orders ps by s, highest first; ties by RSS, then pid.
func SortHostProcs(ps []HostProc, s HostSort) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := s.Measure(ps[i]), s.Measure(ps[j])
		if a != b {
			return a > b
		}
		if ps[i].RSSBytes != ps[j].RSSBytes {
			return ps[i].RSSBytes > ps[j].RSSBytes
		}
		return ps[i].PID < ps[j].PID
	})
}

// ResourceSort is the order that names the processes behind a resource's
// pressure: CPU for cpu, RSS for memory, I/O bytes for io.
func ResourceSort(resource string) HostSort {
	switch resource {
	case "memory":
		return HostByMem
	case "io":
		return HostByIO
	}
	return HostByCPU
}

// Proc finds pid among the sample's processes.
func (s *HostSample) Proc(pid int) (HostProc, bool) {
	for _, p := range s.Top {
		if p.PID == pid {
			return p, true
		}
	}
	return HostProc{}, false
}

// HostInfo says what the probe reads on this host and what it cannot, and
// why. It is sent at start and whenever that changes.
type HostInfo struct {
	CPUs int `json:"cpus"`
	TopN int `json:"top_n"`
	// Cgroup2 is where the cgroup v2 hierarchy was found ("" if none).
	Cgroup2 string `json:"cgroup2,omitempty"`
	// ForksFrom says how forking parents are found: "proc_connector"
	// (every fork, from the kernel's proc connector) or "scan" (new
	// processes each interval, which misses children that lived less
	// than an interval).
	ForksFrom   string     `json:"forks_from"`
	Unavailable []HostPart `json:"unavailable,omitempty"`
}

func (HostInfo) EventKind() string { return KindHostInfo }

// HostPart is a part of the probe this host cannot give, and why.
type HostPart struct {
	Part   string `json:"part"` // "psi", "cgroup", "forks", "io", "available"
	Reason string `json:"reason"`
}

func init() {
	event.Register(KindHost, func() event.Body { return &HostSample{} })
	event.Register(KindHostInfo, func() event.Body { return &HostInfo{} })
}

// HostSummary keeps the peaks of a session's host samples.
type HostSummary struct {
	samples   int
	seconds   float64
	busyS     float64 // Σ busy% × s
	peakBusy  float64
	peakSteal float64
	peakLoad  float64
	minAvail  uint64
	total     uint64
	swapIn    float64 // bytes
	swapOut   float64
	peakForks float64
	peakPSI   map[string]float64
}

// HostSummaryResult is the JSON form, under "summary": {"host": …}.
type HostSummaryResult struct {
	Samples            int                `json:"samples"`
	Seconds            float64            `json:"seconds"`
	AvgBusyPct         float64            `json:"avg_cpu_busy_pct"`
	PeakBusyPct        float64            `json:"peak_cpu_busy_pct"`
	PeakStealPct       float64            `json:"peak_steal_pct"`
	PeakLoad1          float64            `json:"peak_load1"`
	MemTotalBytes      uint64             `json:"mem_total_bytes"`
	MinAvailableBytes  uint64             `json:"min_available_bytes"`
	SwapInBytes        float64            `json:"swap_in_bytes"`
	SwapOutBytes       float64            `json:"swap_out_bytes"`
	PeakForksPerS      float64            `json:"peak_forks_per_s"`
	PeakPSISomeAvg10   map[string]float64 `json:"peak_psi_some_avg10,omitempty"`
	PeakPSIUnavailable bool               `json:"psi_unavailable,omitempty"`
}

func (s *HostSummary) Observe(ev event.Event) {
	h, ok := event.As[HostSample](ev)
	if !ok {
		return
	}
	dt := h.IntervalS
	if !(dt > 0) || math.IsInf(dt, 0) {
		return
	}
	s.samples++
	s.seconds += dt
	busy := h.CPU.Busy()
	s.busyS += busy * dt
	s.peakBusy = max(s.peakBusy, busy)
	s.peakSteal = max(s.peakSteal, h.CPU.Steal)
	s.peakLoad = max(s.peakLoad, h.Load1)
	if s.samples == 1 || h.Mem.AvailableBytes < s.minAvail {
		s.minAvail = h.Mem.AvailableBytes
	}
	s.total = h.Mem.TotalBytes
	s.swapIn = event.Bound(s.swapIn + h.Mem.SwapInPerS*dt)
	s.swapOut = event.Bound(s.swapOut + h.Mem.SwapOutPerS*dt)
	s.peakForks = max(s.peakForks, h.ForksPerS)
	for _, r := range PSIResources {
		if p := h.PSI.Of(r); p != nil {
			if s.peakPSI == nil {
				s.peakPSI = map[string]float64{}
			}
			s.peakPSI[r] = max(s.peakPSI[r], p.SomeAvg10)
		}
	}
}

func (s *HostSummary) Result() any {
	r := HostSummaryResult{Samples: s.samples, Seconds: round2(s.seconds), PeakBusyPct: round2(s.peakBusy),
		PeakStealPct: round2(s.peakSteal), PeakLoad1: round2(s.peakLoad), MemTotalBytes: s.total,
		MinAvailableBytes: s.minAvail, SwapInBytes: math.Round(s.swapIn), SwapOutBytes: math.Round(s.swapOut),
		PeakForksPerS: round2(s.peakForks), PeakPSISomeAvg10: s.peakPSI, PeakPSIUnavailable: s.samples > 0 && s.peakPSI == nil}
	if s.seconds > 0 {
		r.AvgBusyPct = round2(s.busyS / s.seconds)
	}
	return r
}

func (s *HostSummary) Lines() []string {
	if s.samples == 0 {
		return []string{"no host samples"}
	}
	r := s.Result().(HostSummaryResult)
	lines := []string{
		fmt.Sprintf("CPU busy %.0f%% on average, peak %.0f%% (steal peak %.1f%%); load1 peak %.2f; forks peak %.0f/s",
			r.AvgBusyPct, r.PeakBusyPct, r.PeakStealPct, r.PeakLoad1, r.PeakForksPerS),
		fmt.Sprintf("memory available at least %s of %s; swapped in %s, out %s",
			event.HumanBytes(event.SatInt64(float64(r.MinAvailableBytes))), event.HumanBytes(event.SatInt64(float64(r.MemTotalBytes))),
			event.HumanBytes(event.SatInt64(r.SwapInBytes)), event.HumanBytes(event.SatInt64(r.SwapOutBytes))),
	}
	if r.PeakPSIUnavailable {
		return append(lines, "no pressure stall information on this host")
	}
	l := "PSI some avg10 peak:"
	for _, res := range PSIResources {
		if v, ok := r.PeakPSISomeAvg10[res]; ok {
			l += fmt.Sprintf(" %s %.1f%%", res, v)
		}
	}
	return append(lines, l)
}

func init() {
	RegisterProbe(ProbeInfo{Name: ProbeHost, Rank: 5, Summary: func() Summarizer { return &HostSummary{} },
		Kinds: []string{KindHost, KindHostInfo}})
}

// Describe is the sample in one line: CPU, load, memory, pressure and the
// process with the most CPU.
func (s HostSample) Describe() string {
	c := s.CPU
	hb := func(n uint64) string { return event.HumanBytes(event.SatInt64(float64(n))) }
	out := fmt.Sprintf("CPU %.0f%% busy (user %.0f, system %.0f, iowait %.0f, steal %.0f), load %.2f; memory %s used of %s, %s available",
		c.Busy(), c.User+c.Nice, c.System, c.IOWait, c.Steal, s.Load1, hb(s.Mem.UsedBytes), hb(s.Mem.TotalBytes), hb(s.Mem.AvailableBytes))
	if s.Mem.SwapInPerS > 0 || s.Mem.SwapOutPerS > 0 {
		out += fmt.Sprintf(", swap in %s/s out %s/s", event.HumanBytes(event.SatInt64(s.Mem.SwapInPerS)),
			event.HumanBytes(event.SatInt64(s.Mem.SwapOutPerS)))
	}
	if s.PSI != nil {
		out += "; PSI some avg10"
		for _, r := range PSIResources {
			if p := s.PSI.Of(r); p != nil {
				out += fmt.Sprintf(" %s %s%%", r, event.HumanNumber(p.SomeAvg10))
			}
		}
	}
	if len(s.Top) > 0 {
		top := append([]HostProc(nil), s.Top...)
		SortHostProcs(top, HostByCPU)
		out += fmt.Sprintf("; most CPU %s (%d) %.0f%%", top[0].Comm, top[0].PID, top[0].CPUPct)
	}
	return out
}

// Describe says what the probe reads here and what it cannot.
func (i HostInfo) Describe() string {
	from := "the scan"
	if i.ForksFrom == "proc_connector" {
		from = "the proc connector"
	}
	out := fmt.Sprintf("%d CPUs, forking parents from %s", i.CPUs, from)
	if i.Cgroup2 != "" {
		out += ", cgroup v2 at " + i.Cgroup2
	}
	for _, u := range i.Unavailable {
		out += "; no " + u.Part + ": " + u.Reason
	}
	return out
}

var (
	hostCPUChart = event.ChartSpec{Title: "CPU by mode (% of all CPUs)", Unit: "%", Fold: event.FoldGauge,
		First: []string{"user", "system", "iowait", "steal"}}
	hostPSIChart = event.ChartSpec{Title: "pressure stall, some avg10", Unit: "%", Fold: event.FoldGauge,
		First: []string{"cpu", "memory", "io"}}
	hostMemChart = event.ChartSpec{Title: "memory", Unit: "B", Fold: event.FoldGauge, First: []string{"used", "swap used"}}
)

// Plot charts CPU by mode, each resource's pressure, and memory used.
func (s HostSample) Plot(t time.Time, p event.Plot) {
	c := p.Chart(hostCPUChart)
	c.Series("user").Add(t, s.CPU.User+s.CPU.Nice)
	c.Series("system").Add(t, s.CPU.System+s.CPU.IRQ+s.CPU.SoftIRQ)
	c.Series("iowait").Add(t, s.CPU.IOWait)
	c.Series("steal").Add(t, s.CPU.Steal)
	if s.PSI != nil {
		ch := p.Chart(hostPSIChart)
		for _, r := range PSIResources {
			if v := s.PSI.Of(r); v != nil {
				ch.Series(r).Add(t, v.SomeAvg10)
			}
		}
	}
	m := p.Chart(hostMemChart)
	m.Series("used").Add(t, float64(s.Mem.UsedBytes))
	if s.Mem.SwapTotalBytes > 0 {
		m.Series("swap used").Add(t, float64(s.Mem.SwapUsedBytes))
	}
}
