package findings

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Findings about the whole host, from the host probe's samples.
const (
	FindingHostPressure  = "host.pressure"
	FindingHostCPUSteal  = "host.cpu_steal"
	FindingHostSwapStorm = "host.swap_storm"
	FindingHostForkStorm = "host.fork_storm"
)

// HostThresholds tune the host findings.
//
// Why these numbers. PSI's some avg10 is the share of the last 10 s in
// which at least one task waited for the resource: at 20% a fifth of the
// time something that wanted to run could not, which users feel as
// latency; at 50% the host is mostly waiting. full (every non-idle task
// waiting at once) is lost throughput outright, so 10% of it is already
// critical. avg10 is itself a 10 s average, so 5 s above the line is a
// trend, not a blip. Steal of 10% for 10 s is a neighbour taking a tenth
// of the CPUs the guest thinks it has. Swapping in and out at 1 MiB/s
// each at once, for 5 s, is the kernel trading pages back and forth
// (thrashing), not a one-off swap-out of idle memory. A fork rate ten
// times the session's median (counted as at least 10/s, so an idle host's
// few forks a second never make a storm) for 3 s is a fork loop or a
// crash-restart loop. Each ends after 10 s back below its line.
type HostThresholds struct {
	PressureWarn, PressureCritical float64       // some avg10, percent
	PressureFull                   float64       // full avg10 at or above this is critical
	PressureClear                  float64       // some avg10 below this (and full below PressureFull/2) counts as clear
	PressureSustain                time.Duration // above the line this long raises
	StealPct, StealCritical        float64       // steal percent of all CPUs' time
	StealSustain                   time.Duration
	SwapBytesPerS, SwapCritical    float64 // swap-in and swap-out each, bytes per second
	SwapSustain                    time.Duration
	ForkRatio, ForkCriticalRatio   float64 // times the median
	ForkFloor                      float64 // the median counts as at least this many forks per second
	ForkSustain                    time.Duration
	ForkWarmup                     int // samples of history before a storm can be judged
	ForkHistory                    int // samples the median is taken over (the session's last hour at 1 s)
	Clear                          time.Duration
}

// DefaultHostThresholds are the thresholds NewHost uses.
var DefaultHostThresholds = HostThresholds{
	PressureWarn: 20, PressureCritical: 50, PressureFull: 10, PressureClear: 15, PressureSustain: 5 * time.Second,
	StealPct: 10, StealCritical: 30, StealSustain: 10 * time.Second,
	SwapBytesPerS: 1 << 20, SwapCritical: 10 << 20, SwapSustain: 5 * time.Second,
	ForkRatio: 10, ForkCriticalRatio: 100, ForkFloor: 10, ForkSustain: 3 * time.Second, ForkWarmup: 10, ForkHistory: 3600,
	Clear: 10 * time.Second,
}

// HostCulprit is a process a host finding names.
type HostCulprit struct {
	PID         int     `json:"pid"`
	Comm        string  `json:"comm"`
	User        string  `json:"user"`
	CPUPct      float64 `json:"cpu_pct"`
	RSSBytes    uint64  `json:"rss_bytes"`
	IOBytesPerS float64 `json:"io_bytes_per_s"`
	MajfltPerS  float64 `json:"majflt_per_s"`
}

// HostPressureData is host.pressure's data.
type HostPressureData struct {
	Resource      string  `json:"resource"` // cpu, memory or io
	SomeAvg10     float64 `json:"some_avg10"`
	FullAvg10     float64 `json:"full_avg10"`
	PeakSomeAvg10 float64 `json:"peak_some_avg10"`
	Seconds       float64 `json:"seconds"`
	// Top are the processes behind it, most first: for memory the
	// pressured cgroup's own first, then by RSS; for cpu by %CPU; for io
	// by storage bytes per second. At most 3.
	Top             []HostCulprit `json:"top"`
	Cgroup          string        `json:"cgroup,omitempty"` // the cgroup v2 group under the most pressure
	CgroupSomeAvg10 float64       `json:"cgroup_some_avg10,omitempty"`
}

// HostStealData is host.cpu_steal's data.
type HostStealData struct {
	StealPct float64 `json:"steal_pct"` // the latest sample's
	MeanPct  float64 `json:"mean_pct"`  // over the episode
	PeakPct  float64 `json:"peak_pct"`
	Seconds  float64 `json:"seconds"`
	CPUs     int     `json:"cpus"`
}

// HostSwapData is host.swap_storm's data.
type HostSwapData struct {
	SwapInBytesPerS  float64       `json:"swap_in_bytes_per_s"`
	SwapOutBytesPerS float64       `json:"swap_out_bytes_per_s"`
	SwapUsedBytes    uint64        `json:"swap_used_bytes"`
	SwapTotalBytes   uint64        `json:"swap_total_bytes"`
	Seconds          float64       `json:"seconds"`
	Top              []HostCulprit `json:"top"` // by major faults per second, else by RSS; at most 3
}

// HostForkData is host.fork_storm's data.
type HostForkData struct {
	ForksPerS  float64 `json:"forks_per_s"`  // the latest sample's
	MedianPerS float64 `json:"median_per_s"` // the session's
	PeakPerS   float64 `json:"peak_per_s"`
	Seconds    float64 `json:"seconds"`
	// The parent that forked most over the episode, and its rate in the
	// latest sample that named it; 0 and "" if none was seen.
	ParentPID       int     `json:"parent_pid"`
	ParentComm      string  `json:"parent_comm"`
	ParentForksPerS float64 `json:"parent_forks_per_s"`
}

// Each host finding is shown by the host samples nearest it, about the
// process it names first.
func init() {
	register(FindingHostPressure, func(d HostPressureData) Evidence { return Nearest(aboutCulprits(d.Top)) })
	register(FindingHostCPUSteal, func(HostStealData) Evidence { return Nearest(About{}) })
	register(FindingHostSwapStorm, func(d HostSwapData) Evidence { return Nearest(aboutCulprits(d.Top)) })
	register(FindingHostForkStorm, func(d HostForkData) Evidence {
		return Nearest(About{PID: d.ParentPID, Comm: d.ParentComm})
	})
}

func aboutCulprits(top []HostCulprit) About {
	if len(top) == 0 {
		return About{}
	}
	return About{PID: top[0].PID, Comm: top[0].Comm}
}

// sustained follows one condition sample by sample: a run above the line
// that raises it, and once open, a run below the clear line that ends it.
type sustained struct {
	runFrom, lowFrom time.Time // zero: no such run now
}

// step takes a sample covering (at-dt, at]. above: over the raise line;
// clear: under the clear line. It returns whether the condition should be
// raised or held now (hold), and whether it should end (end). Neither
// while an open condition has been under its clear line for less than
// clearAfter: it is no longer held, and not yet over.
func (s *sustained) step(at time.Time, dt time.Duration, open, above, clear bool, sustain, clearAfter time.Duration) (hold, end bool) {
	if !open {
		s.lowFrom = time.Time{}
		if !above {
			s.runFrom = time.Time{}
			return false, false
		}
		if s.runFrom.IsZero() {
			s.runFrom = at.Add(-dt)
		}
		return at.Sub(s.runFrom) >= sustain, false
	}
	if !clear {
		s.lowFrom = time.Time{}
		return true, false
	}
	if s.lowFrom.IsZero() {
		s.lowFrom = at.Add(-dt)
	}
	if at.Sub(s.lowFrom) >= clearAfter {
		s.runFrom, s.lowFrom = time.Time{}, time.Time{}
		return false, true
	}
	return false, false
}

type pressureRun struct {
	sustained
	peak float64
}

type hostDetector struct {
	t        HostThresholds
	c        conds
	prevAt   time.Time
	pressure map[string]*pressureRun
	steal    sustained
	stealSum float64 // steal% × s over the episode
	stealS   float64
	stealPk  float64
	swap     sustained
	fork     sustained
	forkPk   float64
	forkBy   map[int]*forkParent // parents over the fork episode
	hist     []float64           // ring of forks per second
	next     int
	full     bool
	scratch  []float64
}

type forkParent struct {
	comm  string
	forks float64
	last  float64 // forks per second in the latest sample naming it
}

// NewHost returns the detector of the host findings with DefaultHostThresholds.
func NewHost() Detector { return NewHostWith(DefaultHostThresholds) }

// NewHostWith returns the detector with other thresholds.
func NewHostWith(t HostThresholds) Detector {
	return &hostDetector{t: t, pressure: map[string]*pressureRun{}, forkBy: map[int]*forkParent{}}
}

func (d *hostDetector) Produces() []string {
	return []string{FindingHostPressure, FindingHostCPUSteal, FindingHostSwapStorm, FindingHostForkStorm}
}

func (d *hostDetector) Observe(ev event.Event) []event.Event {
	s, ok := event.As[schema.HostSample](ev)
	if !ok {
		return nil
	}
	dt := event.DurationOf(s.IntervalS)
	if dt <= 0 {
		return nil
	}
	at := ev.Time
	if !d.prevAt.IsZero() {
		if at.Before(d.prevAt) {
			*d = *NewHostWith(d.t).(*hostDetector) // time went back: another recording, or a seek
		} else if at.Sub(d.prevAt) > 3*dt+time.Second {
			d.gap() // samples missing: no run spans the hole
		}
	}
	d.prevAt = at
	var out []event.Event
	add := func(f *event.Finding) {
		if f != nil {
			out = append(out, event.New(at, ev.Probe, f))
		}
	}
	for _, res := range schema.PSIResources {
		if r := s.PSI.Of(res); r != nil {
			add(d.pressureOf(at, dt, res, r, s))
		}
	}
	add(d.stealOf(at, dt, s))
	add(d.swapOf(at, dt, s))
	add(d.forksOf(at, dt, s))
	return out
}

// gap forgets the runs a hole in the samples breaks; open conditions stay
// open and end by their clear rule.
func (d *hostDetector) gap() {
	for _, p := range d.pressure {
		p.runFrom = time.Time{}
	}
	d.steal.runFrom, d.swap.runFrom, d.fork.runFrom = time.Time{}, time.Time{}, time.Time{}
}

func (d *hostDetector) pressureOf(at time.Time, dt time.Duration, res string, r *schema.PSIResource, s *schema.HostSample) *event.Finding {
	key := condKey(FindingHostPressure, res)
	run := d.pressure[res]
	if run == nil {
		run = &pressureRun{}
		d.pressure[res] = run
	}
	t := d.t
	open := d.c.isOpen(key, at)
	above := r.SomeAvg10 >= t.PressureWarn || r.FullAvg10 >= t.PressureFull
	clear := r.SomeAvg10 < t.PressureClear && r.FullAvg10 < t.PressureFull/2
	hold, end := run.step(at, dt, open, above, clear, t.PressureSustain, t.Clear)
	if end || (!open && run.runFrom.IsZero()) {
		run.peak = 0
		if end {
			return d.c.end(at, key)
		}
		return nil
	}
	if !hold {
		if !open {
			run.peak = max(run.peak, r.SomeAvg10) // a run on its way to being raised
		}
		return nil
	}
	run.peak = max(run.peak, r.SomeAvg10)
	sev := event.Warn
	if r.SomeAvg10 >= t.PressureCritical || r.FullAvg10 >= t.PressureFull {
		sev = event.Critical
	}
	data := HostPressureData{Resource: res, SomeAvg10: r.SomeAvg10, FullAvg10: r.FullAvg10, PeakSomeAvg10: run.peak,
		Seconds: math.Round(at.Sub(run.runFrom).Seconds())}
	var first []int
	if c := r.Cgroup; c != nil {
		data.Cgroup, data.CgroupSomeAvg10 = c.Path, c.SomeAvg10
		if res == "memory" {
			first = c.PIDs
		}
	}
	data.Top = culprits(s, first, schema.ResourceSort(res), false)
	what := map[string]string{"cpu": "CPU", "memory": "memory", "io": "I/O"}[res]
	sum := fmt.Sprintf("%s pressure: some task waited for %s %.0f%% of the last 10 s", what, what, r.SomeAvg10)
	if r.FullAvg10 > 0 {
		sum += fmt.Sprintf(" (all of them at once %.0f%%)", r.FullAvg10)
	}
	sum += fmt.Sprintf(", for %.0f s", data.Seconds)
	if data.Cgroup != "" {
		sum += fmt.Sprintf("; most in cgroup %s (%.0f%%)", data.Cgroup, data.CgroupSomeAvg10)
	}
	if len(data.Top) > 0 {
		sum += "; " + culpritWords(data.Top, schema.ResourceSort(res))
	}
	return d.c.hold(at, &event.Finding{Finding: FindingHostPressure, Severity: sev, Key: key, Summary: sum, Data: data}, pressureMaterial)
}

// pressureMaterial: the first process named or the cgroup changed, or
// some avg10 moved by 10 points.
func pressureMaterial(prev, cur *event.Finding) bool {
	p, c := prev.Data.(HostPressureData), cur.Data.(HostPressureData)
	return firstPID(p.Top) != firstPID(c.Top) || p.Cgroup != c.Cgroup || math.Abs(p.SomeAvg10-c.SomeAvg10) >= 10
}

func firstPID(top []HostCulprit) int {
	if len(top) == 0 {
		return 0
	}
	return top[0].PID
}

// culprits names up to 3 of the sample's processes: those of first (in
// that order), then the rest highest in order by. onlyActive leaves out
// processes at zero in that order.
func culprits(s *schema.HostSample, first []int, by schema.HostSort, onlyActive bool) []HostCulprit {
	var out []HostCulprit
	seen := map[int]bool{}
	take := func(p schema.HostProc) {
		if len(out) < 3 && !seen[p.PID] {
			seen[p.PID] = true
			out = append(out, HostCulprit{PID: p.PID, Comm: p.Comm, User: p.User, CPUPct: p.CPUPct, RSSBytes: p.RSSBytes,
				IOBytesPerS: p.IOBytesPerS(), MajfltPerS: p.MajfltPerS})
		}
	}
	for _, pid := range first {
		if p, ok := s.Proc(pid); ok {
			take(p)
		}
	}
	ps := slices.Clone(s.Top)
	schema.SortHostProcs(ps, by)
	for _, p := range ps {
		if onlyActive && by.Measure(p) <= 0 {
			break
		}
		take(p)
	}
	return out
}

// culpritWords: "top: hog (pid 4242, 97% CPU), …" in the order's measure.
func culpritWords(top []HostCulprit, by schema.HostSort) string {
	parts := make([]string, len(top))
	for i, c := range top {
		var fig string
		switch by {
		case schema.HostByMem:
			fig = event.HumanBytes(event.SatInt64(float64(c.RSSBytes))) + " RSS"
		case schema.HostByIO:
			fig = event.HumanBytes(event.SatInt64(c.IOBytesPerS)) + "/s of I/O"
		case schema.HostByFaults:
			fig = fmt.Sprintf("%.0f major faults/s", c.MajfltPerS)
		default:
			fig = fmt.Sprintf("%.0f%% CPU", c.CPUPct)
		}
		parts[i] = fmt.Sprintf("%s (pid %d, %s)", c.Comm, c.PID, fig)
	}
	return "top: " + strings.Join(parts, ", ")
}

func (d *hostDetector) stealOf(at time.Time, dt time.Duration, s *schema.HostSample) *event.Finding {
	key := condKey(FindingHostCPUSteal)
	t := d.t
	open := d.c.isOpen(key, at)
	st := s.CPU.Steal
	hold, end := d.steal.step(at, dt, open, st >= t.StealPct, st < t.StealPct, t.StealSustain, t.Clear)
	if end || (!open && d.steal.runFrom.IsZero()) {
		d.stealSum, d.stealS, d.stealPk = 0, 0, 0
		if end {
			return d.c.end(at, key)
		}
		return nil
	}
	if !hold && open {
		return nil // under the line, waiting to clear
	}
	d.stealSum += st * dt.Seconds()
	d.stealS += dt.Seconds()
	d.stealPk = max(d.stealPk, st)
	if !hold {
		return nil
	}
	sev := event.Warn
	if st >= t.StealCritical {
		sev = event.Critical
	}
	data := HostStealData{StealPct: st, MeanPct: round2(d.stealSum / max(d.stealS, 1e-9)), PeakPct: d.stealPk,
		Seconds: math.Round(at.Sub(d.steal.runFrom).Seconds()), CPUs: s.CPU.CPUs}
	sum := fmt.Sprintf("CPU steal %.0f%% for %.0f s (mean %.0f%%, peak %.0f%%): the hypervisor is giving this guest's CPUs to others",
		st, data.Seconds, data.MeanPct, data.PeakPct)
	return d.c.hold(at, &event.Finding{Finding: FindingHostCPUSteal, Severity: sev, Key: key, Summary: sum, Data: data},
		func(prev, cur *event.Finding) bool {
			return math.Abs(prev.Data.(HostStealData).StealPct-cur.Data.(HostStealData).StealPct) >= 10
		})
}

func (d *hostDetector) swapOf(at time.Time, dt time.Duration, s *schema.HostSample) *event.Finding {
	key := condKey(FindingHostSwapStorm)
	t := d.t
	open := d.c.isOpen(key, at)
	in, outb := s.Mem.SwapInPerS, s.Mem.SwapOutPerS
	above := in >= t.SwapBytesPerS && outb >= t.SwapBytesPerS
	hold, end := d.swap.step(at, dt, open, above, !above, t.SwapSustain, t.Clear)
	if end {
		return d.c.end(at, key)
	}
	if !hold {
		return nil
	}
	sev := event.Warn
	if in >= t.SwapCritical && outb >= t.SwapCritical {
		sev = event.Critical
	}
	data := HostSwapData{SwapInBytesPerS: in, SwapOutBytesPerS: outb, SwapUsedBytes: s.Mem.SwapUsedBytes,
		SwapTotalBytes: s.Mem.SwapTotalBytes, Seconds: math.Round(at.Sub(d.swap.runFrom).Seconds())}
	data.Top = culprits(s, nil, schema.HostByFaults, true)
	by := schema.HostByFaults
	if len(data.Top) == 0 {
		data.Top, by = culprits(s, nil, schema.HostByMem, false), schema.HostByMem
	}
	hb := func(x float64) string { return event.HumanBytes(event.SatInt64(x)) }
	sum := fmt.Sprintf("swap storm: swapping in %s/s and out %s/s at once for %.0f s (swap %s of %s used)",
		hb(in), hb(outb), data.Seconds, hb(float64(data.SwapUsedBytes)), hb(float64(data.SwapTotalBytes)))
	if len(data.Top) > 0 {
		sum += "; " + culpritWords(data.Top, by)
	}
	return d.c.hold(at, &event.Finding{Finding: FindingHostSwapStorm, Severity: sev, Key: key, Summary: sum, Data: data},
		func(prev, cur *event.Finding) bool {
			p, c := prev.Data.(HostSwapData), cur.Data.(HostSwapData)
			return firstPID(p.Top) != firstPID(c.Top)
		})
}

// median is the median of the history's forks per second.
func (d *hostDetector) median() float64 {
	n := d.next
	if d.full {
		n = len(d.hist)
	}
	d.scratch = append(d.scratch[:0], d.hist[:n]...)
	slices.Sort(d.scratch)
	if n%2 == 1 {
		return d.scratch[n/2]
	}
	return (d.scratch[n/2-1] + d.scratch[n/2]) / 2
}

func (d *hostDetector) history() int {
	if d.full {
		return len(d.hist)
	}
	return d.next
}

func (d *hostDetector) forksOf(at time.Time, dt time.Duration, s *schema.HostSample) *event.Finding {
	key := condKey(FindingHostForkStorm)
	t := d.t
	open := d.c.isOpen(key, at)
	rate := s.ForksPerS
	var f *event.Finding
	if d.history() >= t.ForkWarmup && (open || rate >= t.ForkRatio*t.ForkFloor) {
		med := d.median()
		base := max(med, t.ForkFloor)
		above := rate >= t.ForkRatio*base
		hold, end := d.fork.step(at, dt, open, above, !above, t.ForkSustain, t.Clear)
		switch {
		case end:
			f = d.c.end(at, key)
		case hold || (!open && !d.fork.runFrom.IsZero()):
			d.forkSeen(dt, s)
			if hold {
				f = d.forkFinding(at, key, s, med, base)
			}
		}
	} else if !open {
		d.fork.runFrom = time.Time{}
	}
	if !d.c.isOpen(key, at) && d.fork.runFrom.IsZero() {
		d.forkPk = 0
		clear(d.forkBy)
	}
	// Every sample joins the history, a storm's too: the median is the
	// session's, and a rate that stays up long enough becomes its normal.
	if d.hist == nil {
		d.hist = make([]float64, max(t.ForkHistory, 1))
	}
	d.hist[d.next] = rate
	if d.next++; d.next == len(d.hist) {
		d.next, d.full = 0, true
	}
	return f
}

// forkSeen adds a sample of a fork run to its peak and its parents.
func (d *hostDetector) forkSeen(dt time.Duration, s *schema.HostSample) {
	d.forkPk = max(d.forkPk, s.ForksPerS)
	for _, fk := range s.Forkers {
		p := d.forkBy[fk.PID]
		if p == nil {
			if len(d.forkBy) >= 64 {
				continue
			}
			p = &forkParent{}
			d.forkBy[fk.PID] = p
		}
		p.comm, p.last = fk.Comm, fk.ForksPerS
		p.forks += fk.ForksPerS * dt.Seconds()
	}
}

func (d *hostDetector) forkFinding(at time.Time, key string, s *schema.HostSample, med, base float64) *event.Finding {
	t := d.t
	rate := s.ForksPerS
	data := HostForkData{ForksPerS: rate, MedianPerS: round2(med), PeakPerS: d.forkPk, Seconds: math.Round(at.Sub(d.fork.runFrom).Seconds())}
	var best *forkParent
	for pid, p := range d.forkBy {
		if best == nil || p.forks > best.forks || (p.forks == best.forks && pid < data.ParentPID) {
			best, data.ParentPID = p, pid
		}
	}
	if best != nil {
		data.ParentComm, data.ParentForksPerS = best.comm, best.last
	}
	sev := event.Warn
	if rate >= t.ForkCriticalRatio*base {
		sev = event.Critical
	}
	sum := fmt.Sprintf("fork storm: %.0f forks/s for %.0f s, %.0f× the session's median of %.1f/s", rate, data.Seconds, rate/base, med)
	if best != nil {
		sum += fmt.Sprintf("; %s (pid %d) forks most, %.0f/s", data.ParentComm, data.ParentPID, data.ParentForksPerS)
	}
	return d.c.hold(at, &event.Finding{Finding: FindingHostForkStorm, Severity: sev, Key: key, Summary: sum, Data: data},
		func(prev, cur *event.Finding) bool {
			p, c := prev.Data.(HostForkData), cur.Data.(HostForkData)
			return p.ParentPID != c.ParentPID || c.ForksPerS >= 2*p.ForksPerS || p.ForksPerS >= 2*c.ForksPerS
		})
}

func init() { registerDetector(5, func(Config) Detector { return NewHost() }) }
