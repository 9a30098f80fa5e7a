package probes

// The host probe: what top, vmstat and free show, on stakeout's time axis
// and in its recording. Load, CPU by mode, context switches and forks from
// /proc/stat; memory from /proc/meminfo; swap and major faults from
// /proc/vmstat; pressure stall information from /proc/pressure and the
// cgroup v2 tree; and the processes behind them (host_procs_linux.go),
// of which only the top few of each ranking are recorded.
//
// The system-wide files are read with github.com/prometheus/procfs (Stat,
// Meminfo, LoadAvg, PSIStatsForResource). procfs has no reader of
// /proc/vmstat nor of a cgroup's pressure file, so those two are parsed
// here, and the per-process scan has its own reader for the cost it saves
// (see host_procs_linux.go).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/procfs"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const hostName = schema.ProbeHost

var hostSpec = Spec{
	Name: hostName,
	Help: "CPU by mode, memory, load, pressure stall (PSI), forks, and the top processes by CPU, memory and I/O",
	New:  func(cfg Config) Probe { return newHost(cfg) },
}

// maxForkers is how many forking parents a sample names.
const maxForkers = 3

// The process scan is the probe's main cost, so on a quiet host it runs
// every hostQuietScanEvery samples instead of every one: quiet is CPU
// less than half busy, every resource's PSI some avg10 under
// schema.HostCgroupFrom, no swapping, and fewer than hostQuietForks forks
// a second. A sample without a scan has no top list.
const (
	hostQuietScanEvery = 5
	hostQuietBusy      = 50.0
	hostQuietForks     = 50.0
)

type hostCollector struct {
	cfg   Config
	now   func() time.Time
	fs    procfs.FS
	scan  *hostScanner
	forks *forkCounter
	cg    string // cgroup v2 root, "" if none
	psi   bool
	files *hostFiles
	users map[uint32]string
	// connectorSilent counts samples in which the kernel counted forks
	// and the proc connector delivered none (outside the initial pid
	// namespace it accepts the subscription and sends nothing).
	connectorSilent int
	sinceScan       int // samples since the last process scan
}

func newHost(cfg Config) *hostCollector {
	return &hostCollector{cfg: cfg, now: time.Now, users: map[uint32]string{}}
}

// Check reads /proc/stat once: without it there is nothing to show.
func (p *hostCollector) Check() error {
	path := p.cfg.ProcPath("stat")
	f, err := openOrExplain(path, "procfs is not mounted there", "permission denied")
	if err != nil {
		return err
	}
	f.Close()
	pfs, err := procfs.NewFS(p.cfg.Procfs)
	if err != nil {
		return Unavailablef("cannot use %s: %v", p.cfg.Procfs, err)
	}
	if _, err := pfs.Stat(); err != nil {
		return Unavailablef("cannot use %s: %v", path, err)
	}
	return nil
}

// hostRead is one reading of the system-wide files (host_sysfiles_linux.go).
type hostRead struct {
	at     time.Time
	stat   sysStat
	mem    memInfo
	load   [3]float64
	loadOK bool
	vm     vmCounters
	vmOK   bool
	psi    [3]psiStats // in schema.PSIResources order
}

// Run emits a host_info, then a host sample every interval; the first
// reading is only a baseline.
func (p *hostCollector) Run(ctx context.Context, emit Emit) error {
	info, err := p.open()
	if err != nil {
		return err
	}
	defer p.close()
	emit(event.New(p.now(), hostName, &info))
	prev, err := p.baseline()
	if err != nil {
		return err
	}
	// The baseline was fatal; the steps wait for ticks, and only
	// maxReadFailures of them in a row end Run.
	pl := newPoller(p.cfg)
	pl.giveUpAfter = maxReadFailures
	return pl.run(ctx, func() error {
		cur, err := p.read()
		if err != nil {
			return err // prev stays: the next sample covers the longer interval
		}
		if dt := cur.at.Sub(prev.at); dt > 0 && ctx.Err() == nil {
			emit(event.New(cur.at, hostName, p.sample(prev, cur, dt.Seconds())))
			if p.connectorSilent == 5 { // said once: forks are found by the scan from now on
				p.forks.close()
				p.forks = nil
				info = p.info()
				emit(event.New(cur.at, hostName, &info))
			}
		}
		prev = cur
		return nil
	})
}

// open sets the probe up and says what this host gives.
func (p *hostCollector) open() (schema.HostInfo, error) {
	var err error
	if p.fs, err = procfs.NewFS(p.cfg.Procfs); err != nil {
		return schema.HostInfo{}, fmt.Errorf("host: %w", err)
	}
	p.scan = newHostScanner(p.cfg.Procfs)
	p.files = newHostFiles(p.cfg)
	p.sinceScan = hostQuietScanEvery // the first sample scans
	return p.info(), nil
}

func (p *hostCollector) close() {
	p.scan.close()
	p.files.close()
	if p.forks != nil {
		p.forks.close()
		p.forks = nil
	}
}

// baseline is the first reading, which the first sample is measured
// from: the system files, every process, and the forks so far drained.
func (p *hostCollector) baseline() (hostRead, error) {
	r, err := p.read()
	if err != nil {
		return r, err
	}
	p.scan.scan(r.at)
	if p.forks != nil {
		p.forks.drain()
	}
	return r, nil
}

// info works out what this host gives, and opens the fork counter.
func (p *hostCollector) info() schema.HostInfo {
	info := schema.HostInfo{CPUs: 0, TopN: schema.HostTopN, ForksFrom: "scan"}
	if st, err := p.fs.Stat(); err == nil {
		info.CPUs = len(st.CPU)
	}
	if _, err := p.fs.PSIStatsForResource("cpu"); err == nil {
		p.psi = true
	} else {
		why := "this kernel keeps no pressure stall information (built without CONFIG_PSI, or booted with psi=0)"
		if !errors.Is(err, fs.ErrNotExist) {
			why = err.Error()
		}
		info.Unavailable = append(info.Unavailable, schema.HostPart{Part: "psi",
			Reason: fmt.Sprintf("no %s: %s; host.pressure cannot fire", p.cfg.ProcPath("pressure"), why)})
	}
	p.cg = findCgroup2(p.cfg.Sysfs)
	info.Cgroup2 = p.cg
	switch {
	case p.cg == "":
		info.Unavailable = append(info.Unavailable, schema.HostPart{Part: "cgroup",
			Reason: fmt.Sprintf("no cgroup v2 hierarchy at %s or %s: host.pressure cannot name a cgroup",
				p.cfg.SysPath("fs", "cgroup"), p.cfg.SysPath("fs", "cgroup", "unified"))})
	case !fileExists(filepath.Join(p.cg, "cpu.pressure")) && p.psi:
		info.Unavailable = append(info.Unavailable, schema.HostPart{Part: "cgroup",
			Reason: fmt.Sprintf("%s has no pressure files (cgroup.pressure is off): host.pressure cannot name a cgroup", p.cg)})
	}
	if m, err := p.fs.Meminfo(); err == nil && m.MemAvailableBytes == nil {
		info.Unavailable = append(info.Unavailable, schema.HostPart{Part: "available",
			Reason: "no MemAvailable in /proc/meminfo (a kernel before 3.14): available memory is estimated as free + buffers + cache"})
	}
	// Forks are counted from the kernel only on the real /proc: a fixture
	// tree's processes are not the kernel's.
	if p.forks == nil && p.scan.keep && p.connectorSilent == 0 && p.cfg.Procfs == "/proc" {
		fc, err := openForkCounter()
		if err == nil {
			p.forks = fc
		} else {
			info.Unavailable = append(info.Unavailable, schema.HostPart{Part: "forks",
				Reason: fmt.Sprintf("no proc connector (%v): forking parents are found only by the scan, which misses children that live less than an interval", err)})
		}
	}
	if p.forks != nil {
		info.ForksFrom = "proc_connector"
	} else if p.connectorSilent > 0 {
		info.Unavailable = append(info.Unavailable, schema.HostPart{Part: "forks",
			Reason: "the proc connector sends nothing here (stakeout is not in the initial pid namespace): forking parents are found only by the scan, which misses children that live less than an interval"})
	}
	return info
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

// read takes one reading of everything, stamped once /proc/stat is read.
func (p *hostCollector) read() (hostRead, error) {
	var r hostRead
	f := p.files
	b, err := f.stat.read()
	if err == nil {
		r.stat, err = parseSysStat(b)
	}
	if err != nil {
		return r, fmt.Errorf("host: %s: %w", f.stat.path, err)
	}
	r.at = p.now()
	if b, err = f.meminfo.read(); err == nil {
		r.mem, err = parseMeminfo(b)
	}
	if err != nil {
		return r, fmt.Errorf("host: %s: %w", f.meminfo.path, err)
	}
	if b, err := f.loadavg.read(); err == nil {
		r.load, err = parseLoadavg(b)
		r.loadOK = err == nil
	}
	if b, err := f.vmstat.read(); err == nil {
		r.vm, r.vmOK = parseVMStat(b), true
	}
	if p.psi {
		for i := range schema.PSIResources {
			if b, err := f.psi[i].read(); err == nil {
				r.psi[i], _ = parsePSI(b)
			}
		}
	}
	return r, nil
}

// vmCounters are the /proc/vmstat counters the probe rates.
type vmCounters struct{ pswpin, pswpout, pgmajfault uint64 }

func parseVMStat(b []byte) vmCounters {
	var v vmCounters
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		name, val, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			continue
		}
		switch string(name) {
		case "pswpin":
			v.pswpin = parseUintTok(val)
		case "pswpout":
			v.pswpout = parseUintTok(val)
		case "pgmajfault":
			v.pgmajfault = parseUintTok(val)
		}
	}
	return v
}

// rate is the rise of a counter per second, 0 if it went back.
func rate(prev, cur uint64, dt float64) float64 {
	if cur < prev || dt <= 0 {
		return 0
	}
	return float64(cur-prev) / dt
}

func u64(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// sample builds the event for the interval from prev to cur.
func (p *hostCollector) sample(prev, cur hostRead, dt float64) *schema.HostSample {
	s := &schema.HostSample{IntervalS: dt, Running: cur.stat.running, Blocked: cur.stat.blocked}
	if cur.loadOK {
		s.Load1, s.Load5, s.Load15 = cur.load[0], cur.load[1], cur.load[2]
	}
	s.CPU = cpuShares(prev.stat.cpu, cur.stat.cpu)
	s.CPU.CPUs = cur.stat.cpus
	s.CtxtPerS = rate(prev.stat.ctxt, cur.stat.ctxt, dt)
	s.ForksPerS = rate(prev.stat.processes, cur.stat.processes, dt)
	s.Mem = memOf(cur.mem)
	if prev.vmOK && cur.vmOK {
		page := float64(os.Getpagesize())
		s.Mem.SwapInPerS = rate(prev.vm.pswpin, cur.vm.pswpin, dt) * page
		s.Mem.SwapOutPerS = rate(prev.vm.pswpout, cur.vm.pswpout, dt) * page
		s.Mem.MajorFaultsPerS = rate(prev.vm.pgmajfault, cur.vm.pgmajfault, dt)
	}
	if p.psi {
		s.PSI = &schema.HostPSI{}
		for i, res := range schema.PSIResources {
			r := psiOf(&prev.psi[i], &cur.psi[i], dt)
			switch res {
			case "cpu":
				s.PSI.CPU = r
			case "memory":
				s.PSI.Memory = r
			case "io":
				s.PSI.IO = r
			}
		}
	}
	p.sinceScan++
	var procs []procNow
	if !p.quiet(s) || p.sinceScan >= hostQuietScanEvery {
		var err error
		if procs, err = p.scan.scan(cur.at); err == nil {
			p.sinceScan = 0
			s.Procs = len(procs)
		}
	}
	byPID := make(map[int]*procNow, len(procs))
	for i := range procs {
		byPID[procs[i].pid] = &procs[i]
	}
	chosen := topProcs(procs, schema.HostTopN)
	if p.psi && len(procs) > 0 {
		for _, res := range schema.PSIResources {
			r := s.PSI.Of(res)
			if r == nil {
				continue
			}
			if p.cg != "" && r.SomeAvg10 >= schema.HostCgroupFrom {
				if c, ok := worstCgroup(p.cg, res, r.SomeAvg10); ok {
					r.Cgroup = &schema.PSICgroup{Path: c.path, SomeAvg10: c.some, FullAvg10: c.full}
					r.Cgroup.PIDs = topOf(cgroupPIDs(p.cg, c.path), byPID, schema.ResourceSort(res), 3)
					for _, pid := range r.Cgroup.PIDs {
						chosen[pid] = true
					}
				}
			}
		}
	}
	if len(procs) > 0 {
		s.Top = make([]schema.HostProc, 0, len(chosen))
	}
	for pid := range chosen {
		n := byPID[pid]
		s.Top = append(s.Top, schema.HostProc{PID: n.pid, PPID: n.ppid, Comm: n.comm, User: p.userOf(n.pid), State: string(n.state),
			CPUPct: round1(n.cpuPct), RSSBytes: n.rss, ReadBytesPerS: round1(n.rbps), WriteBytesPerS: round1(n.wbps),
			MajfltPerS: round1(n.majps), Threads: n.threads})
	}
	schema.SortHostProcs(s.Top, schema.HostByCPU)
	s.Forkers = p.forkers(s.ForksPerS, dt, byPID, len(procs) > 0)
	return s
}

// quiet says whether the sample's figures let the process scan wait.
func (p *hostCollector) quiet(s *schema.HostSample) bool {
	if s.CPU.Busy()+s.CPU.IOWait >= hostQuietBusy || s.ForksPerS >= hostQuietForks ||
		s.Mem.SwapInPerS > 0 || s.Mem.SwapOutPerS > 0 {
		return false
	}
	for _, res := range schema.PSIResources {
		if r := s.PSI.Of(res); r != nil && (r.SomeAvg10 >= schema.HostCgroupFrom || r.FullAvg10 >= schema.HostCgroupFrom/2) {
			return false
		}
	}
	return true
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }

// topProcs picks the n highest processes of each ranking (leaving out
// processes at zero), as a set of pids.
func topProcs(ps []procNow, n int) map[int]bool {
	out := map[int]bool{}
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	measures := []func(p *procNow) float64{
		func(p *procNow) float64 { return p.cpuPct },
		func(p *procNow) float64 { return float64(p.rss) },
		func(p *procNow) float64 { return p.rbps + p.wbps },
		func(p *procNow) float64 { return p.majps },
	}
	for _, m := range measures {
		sort.Slice(idx, func(a, b int) bool {
			x, y := m(&ps[idx[a]]), m(&ps[idx[b]])
			if x != y {
				return x > y
			}
			return ps[idx[a]].pid < ps[idx[b]].pid
		})
		for _, i := range idx[:min(n, len(idx))] {
			if m(&ps[i]) > 0 {
				out[ps[i].pid] = true
			}
		}
	}
	return out
}

// topOf picks up to n of pids, highest in order s, among those scanned.
func topOf(pids []int, byPID map[int]*procNow, s schema.HostSort, n int) []int {
	var ps []schema.HostProc
	for _, pid := range pids {
		if p := byPID[pid]; p != nil {
			ps = append(ps, schema.HostProc{PID: pid, CPUPct: p.cpuPct, RSSBytes: p.rss, ReadBytesPerS: p.rbps,
				WriteBytesPerS: p.wbps, MajfltPerS: p.majps})
		}
	}
	schema.SortHostProcs(ps, s)
	var out []int
	for _, p := range ps[:min(n, len(ps))] {
		out = append(out, p.PID)
	}
	return out
}

// forkers names the parents that forked most in the interval: from the
// proc connector, or from the processes the scan saw for the first time.
func (p *hostCollector) forkers(forksPerS, dt float64, byPID map[int]*procNow, scanned bool) []schema.HostForker {
	var by map[int]uint64
	lost := false
	if p.forks != nil {
		by, lost = p.forks.drain()
		if len(by) == 0 && forksPerS*dt >= 20 {
			p.connectorSilent++ // many forks, none announced: the connector is deaf here
		} else if len(by) > 0 {
			p.connectorSilent = 0
		}
	}
	if len(by) == 0 && scanned {
		by = map[int]uint64{}
		for ppid, n := range p.scan.newcomer {
			by[ppid] = uint64(n)
		}
	}
	type fk struct {
		pid int
		n   uint64
	}
	var all []fk
	var counted uint64
	for pid, n := range by {
		counted += n
		if pid > 0 {
			all = append(all, fk{pid, n})
		}
	}
	// A storm that overflowed the connector's buffer was counted only in
	// part: each parent gets its share of the counted forks of the
	// kernel's total (/proc/stat).
	scale := 1.0
	if total := forksPerS * dt; lost && counted > 0 && total > float64(counted) {
		scale = total / float64(counted)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return all[i].pid < all[j].pid
	})
	var out []schema.HostForker
	for _, f := range all[:min(maxForkers, len(all))] {
		comm := ""
		if n := byPID[f.pid]; n != nil {
			comm = n.comm
		} else if c, err := p.cfg.readComm(f.pid); err == nil {
			comm = c
		}
		out = append(out, schema.HostForker{PID: f.pid, Comm: comm, ForksPerS: round1(float64(f.n) * scale / dt)})
	}
	return out
}

// userOf names the process's owner, by /etc/passwd where it can.
func (p *hostCollector) userOf(pid int) string {
	uid, ok := p.scan.uidOf(pid)
	if !ok {
		return ""
	}
	if name, ok := p.users[uid]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	if len(p.users) >= 1024 {
		clear(p.users)
	}
	p.users[uid] = name
	return name
}

// cpuShares is each mode's share of the CPU time between two readings, in
// percent. Guest time is already inside user and nice. A counter that went
// back (iowait can, on an idle CPU) counts as 0.
func cpuShares(a, b procfs.CPUStat) schema.HostCPU {
	d := func(x, y float64) float64 { return max(y-x, 0) }
	c := schema.HostCPU{User: d(a.User, b.User), Nice: d(a.Nice, b.Nice), System: d(a.System, b.System),
		IOWait: d(a.Iowait, b.Iowait), IRQ: d(a.IRQ, b.IRQ), SoftIRQ: d(a.SoftIRQ, b.SoftIRQ),
		Steal: d(a.Steal, b.Steal), Idle: d(a.Idle, b.Idle)}
	total := c.User + c.Nice + c.System + c.IOWait + c.IRQ + c.SoftIRQ + c.Steal + c.Idle
	if total <= 0 {
		return schema.HostCPU{}
	}
	pct := func(x float64) float64 { return float64(int64(x/total*10000+0.5)) / 100 }
	return schema.HostCPU{User: pct(c.User), Nice: pct(c.Nice), System: pct(c.System), IOWait: pct(c.IOWait),
		IRQ: pct(c.IRQ), SoftIRQ: pct(c.SoftIRQ), Steal: pct(c.Steal), Idle: pct(c.Idle)}
}

// memOf takes the sample's memory figures from /proc/meminfo.
func memOf(m memInfo) schema.HostMem {
	h := schema.HostMem{TotalBytes: m.total, FreeBytes: m.free, BuffersBytes: m.buffers,
		CachedBytes: m.cached + m.sreclaimable, DirtyBytes: m.dirty,
		WritebackBytes: m.writeback, SwapTotalBytes: m.swapTotal}
	h.SwapUsedBytes = h.SwapTotalBytes - min(m.swapFree, h.SwapTotalBytes)
	if m.hasAvailable {
		h.AvailableBytes = m.available
	} else {
		h.AvailableBytes, h.AvailableUnknown = h.FreeBytes+h.BuffersBytes+h.CachedBytes, true
	}
	h.AvailableBytes = min(h.AvailableBytes, h.TotalBytes)
	h.UsedBytes = h.TotalBytes - h.AvailableBytes
	return h
}

// psiOf is one resource's pressure: the kernel's averages, and the share
// of the interval from the rise of its total (µs). prev may be a reading
// that had no file (the first, or a failed read): no share then.
func psiOf(prev, cur *psiStats, dt float64) *schema.PSIResource {
	if !cur.hasSome {
		return nil
	}
	r := &schema.PSIResource{SomeAvg10: cur.some.avg10, SomeAvg60: cur.some.avg60}
	share := func(had bool, a, b psiLine) float64 {
		if !had || b.total < a.total {
			return 0
		}
		return min(round1(float64(b.total-a.total)/(dt*1e6)*100), 100)
	}
	r.SomePct = share(prev.hasSome, prev.some, cur.some)
	if cur.hasFull {
		r.FullAvg10, r.FullAvg60 = cur.full.avg10, cur.full.avg60
		r.FullPct = share(prev.hasFull, prev.full, cur.full)
	}
	return r
}

func init() { register(hostSpec) }
