package probes

// The host probe's system-wide files, read every sample: /proc/stat,
// /proc/meminfo, /proc/loadavg and /proc/pressure/{cpu,io,memory}.
//
// Why not prometheus/procfs's Stat, Meminfo, LoadAvg and
// PSIStatsForResource, which Check and the host_info still use: read each
// second they were most of what the probe cost on a host whose process
// scan waits (a quiet host scans every fifth sample). procfs opens each
// file with os.Open (seven syscalls where one pread does), parses /proc/stat
// with a fmt.Sscanf per CPU line and every interrupt count of the intr
// line, and allocates about 350 objects and 55 KB a sample, which the
// collector then has to find. BenchmarkHostSysFiles on this 2-core PVM
// host (load 4-5): 232-307 cpu-µs and 55,734 B a sample with procfs,
// 46-59 cpu-µs and nothing with these readers (which also read
// /proc/vmstat). The files stay open (procFile) and are parsed without
// allocating; only what the probe shows is taken.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/procfs"
	"github.com/stakeout/stakeout/schema"
)

// sysStat is what the probe takes from /proc/stat.
type sysStat struct {
	cpu              procfs.CPUStat // the "cpu" line, in seconds as procfs gives it
	cpus             int            // cpuN lines
	ctxt, processes  uint64
	running, blocked uint64
}

// memInfo is what the probe takes from /proc/meminfo, in bytes.
type memInfo struct {
	total, free, available, buffers, cached, sreclaimable uint64
	dirty, writeback, swapTotal, swapFree                 uint64
	hasAvailable                                          bool // a kernel before 3.14 has no MemAvailable
}

// psiLine is one line of a pressure file: the kernel's averages (percent)
// and its total stall time (µs).
type psiLine struct {
	avg10, avg60, avg300 float64
	total                uint64
}

// psiStats is one resource's pressure file; a line the file lacks (full
// for cpu before 5.13) is not had.
type psiStats struct {
	some, full       psiLine
	hasSome, hasFull bool
}

// hostFiles are the system-wide files, kept open between samples.
type hostFiles struct {
	stat, meminfo, loadavg, vmstat *procFile
	psi                            [3]*procFile // in schema.PSIResources order
}

func newHostFiles(cfg Config) *hostFiles {
	f := &hostFiles{stat: newProcFile(cfg.ProcPath("stat")), meminfo: newProcFile(cfg.ProcPath("meminfo")),
		loadavg: newProcFile(cfg.ProcPath("loadavg")), vmstat: newProcFile(cfg.ProcPath("vmstat"))}
	for i, res := range schema.PSIResources {
		f.psi[i] = newProcFile(cfg.ProcPath("pressure", res))
	}
	return f
}

func (f *hostFiles) close() {
	for _, pf := range append([]*procFile{f.stat, f.meminfo, f.loadavg, f.vmstat}, f.psi[:]...) {
		pf.close()
	}
}

var errNoCPULine = errors.New("no cpu line")

// parseSysStat reads the lines of /proc/stat the probe shows (proc(5)).
func parseSysStat(b []byte) (sysStat, error) {
	var s sysStat
	seen := false
	for line := range bytes.Lines(b) {
		key, rest, _ := bytes.Cut(line, []byte(" "))
		switch {
		case string(key) == "cpu":
			var v [8]uint64 // user nice system idle iowait irq softirq steal (guest is in user)
			n := 0
			for tok := range bytes.FieldsSeq(rest) {
				if n == len(v) {
					break
				}
				x, ok := parseUintField(tok, 10)
				if !ok {
					return s, fmt.Errorf("cpu line: %q is not a number", tok)
				}
				v[n] = x
				n++
			}
			if n < 4 {
				return s, fmt.Errorf("cpu line: %d fields", n)
			}
			t := func(i int) float64 { return float64(v[i]) / clockTicks }
			s.cpu = procfs.CPUStat{User: t(0), Nice: t(1), System: t(2), Idle: t(3), Iowait: t(4),
				IRQ: t(5), SoftIRQ: t(6), Steal: t(7)}
			seen = true
		case len(key) > 3 && string(key[:3]) == "cpu":
			s.cpus++
		case string(key) == "ctxt":
			s.ctxt, _ = parseUintField(rest, 10)
		case string(key) == "processes":
			s.processes, _ = parseUintField(rest, 10)
		case string(key) == "procs_running":
			s.running, _ = parseUintField(rest, 10)
		case string(key) == "procs_blocked":
			s.blocked, _ = parseUintField(rest, 10)
		}
	}
	if !seen {
		return s, errNoCPULine
	}
	return s, nil
}

// parseMeminfo reads the lines of /proc/meminfo the probe shows; their
// values are in kB (KiB), given here in bytes.
func parseMeminfo(b []byte) (memInfo, error) {
	var m memInfo
	for line := range bytes.Lines(b) {
		key, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(key) {
		case "MemTotal":
			dst = &m.total
		case "MemFree":
			dst = &m.free
		case "MemAvailable":
			dst, m.hasAvailable = &m.available, true
		case "Buffers":
			dst = &m.buffers
		case "Cached":
			dst = &m.cached
		case "SReclaimable":
			dst = &m.sreclaimable
		case "Dirty":
			dst = &m.dirty
		case "Writeback":
			dst = &m.writeback
		case "SwapTotal":
			dst = &m.swapTotal
		case "SwapFree":
			dst = &m.swapFree
		default:
			continue
		}
		v, _ := bytes.CutSuffix(bytes.TrimSpace(rest), []byte(" kB"))
		kb, ok := parseUintField(v, 10)
		if !ok {
			return m, fmt.Errorf("%s: %q is not a number of kB", key, bytes.TrimSpace(rest))
		}
		*dst = kb * 1024
	}
	if m.total == 0 {
		return m, errors.New("no MemTotal")
	}
	return m, nil
}

// parseLoadavg reads the three load averages of /proc/loadavg.
func parseLoadavg(b []byte) ([3]float64, error) {
	var l [3]float64
	n := 0
	for tok := range bytes.FieldsSeq(b) {
		if n == len(l) {
			break
		}
		v, err := strconv.ParseFloat(string(tok), 64)
		if err != nil {
			return l, fmt.Errorf("loadavg: %q is not a number", tok)
		}
		l[n] = v
		n++
	}
	if n < len(l) {
		return l, fmt.Errorf("loadavg: %d fields", n)
	}
	return l, nil
}

// parsePSI reads a pressure file: "some avg10=0.12 avg60=0.05 avg300=0.01
// total=12345", and a "full" line in the same form. Other lines are
// skipped, as procfs does.
func parsePSI(b []byte) (psiStats, error) {
	var p psiStats
	for line := range bytes.Lines(b) {
		kind, rest, _ := bytes.Cut(line, []byte(" "))
		var dst *psiLine
		switch string(kind) {
		case "some":
			dst, p.hasSome = &p.some, true
		case "full":
			dst, p.hasFull = &p.full, true
		default:
			continue
		}
		for kv := range bytes.FieldsSeq(rest) {
			k, v, ok := bytes.Cut(kv, []byte("="))
			if !ok {
				return p, fmt.Errorf("pressure: %q", kv)
			}
			var err error
			switch string(k) {
			case "avg10":
				dst.avg10, err = strconv.ParseFloat(string(v), 64)
			case "avg60":
				dst.avg60, err = strconv.ParseFloat(string(v), 64)
			case "avg300":
				dst.avg300, err = strconv.ParseFloat(string(v), 64)
			case "total":
				var ok bool
				if dst.total, ok = parseUintField(v, 10); !ok {
					err = strconv.ErrSyntax
				}
			}
			if err != nil {
				return p, fmt.Errorf("pressure: %s=%q is not a number", k, v)
			}
		}
	}
	return p, nil
}
