package sessions

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Header holds the facts about the recorded host and run, written once at
// the start of the file. Every string in it came from a possibly foreign
// host: sanitize before printing it to a terminal.
type Header struct {
	FormatVersion   int           `json:"format_version"`
	Hostname        string        `json:"hostname"`
	Kernel          string        `json:"kernel"`
	BootTime        time.Time     `json:"boot_time"`
	CPUs            int           `json:"cpus"`
	MemoryBytes     uint64        `json:"memory_bytes"`
	StakeoutVersion string        `json:"stakeout_version"`
	Command         []string      `json:"command"`
	Started         time.Time     `json:"started"`
	Interval        time.Duration `json:"interval_ns"`
	// Extract is set in a file written by `stakeout extract`: what it was
	// cut from. Absent in a recording.
	Extract *ExtractInfo `json:"extract,omitempty"`
	// Detectors holds the detector settings the recording was made with
	// (findings.Config as JSON, e.g. --burst-window), so findings
	// recomputed from the file are the ones seen live. Absent: defaults.
	Detectors json.RawMessage `json:"detectors,omitempty"`
}

// ExtractInfo says a session file is a time window cut from another.
type ExtractInfo struct {
	Source        string    `json:"source"`         // the original file's name (no directory)
	SourceStarted time.Time `json:"source_started"` // the original's Started
	Since         time.Time `json:"since"`          // the window asked for
	Until         time.Time `json:"until"`
	// From is where the copied history begins: events in [From, Since)
	// give panes and detectors their state at Since, and the last state
	// event of each kind from before it is stamped at From.
	From time.Time `json:"from"`
}

// HostHeader fills a Header from the live host. Facts it cannot read stay
// zero: a header is never a reason not to record.
func HostHeader(version string, argv []string, interval time.Duration) Header {
	h := hostFacts("/proc", "/sys")
	h.StakeoutVersion = version
	h.Command = append([]string(nil), argv...)
	h.Interval = interval
	h.Started = time.Now().UTC()
	return h
}

// hostFacts reads the host part of a Header below the given proc and sys
// roots, so it can be tested on fixture trees.
func hostFacts(proc, sys string) Header {
	h := Header{FormatVersion: FormatMajor}
	h.Hostname = firstLine(filepath.Join(proc, "sys/kernel/hostname"))
	if h.Hostname == "" {
		h.Hostname, _ = os.Hostname()
	}
	h.Kernel = firstLine(filepath.Join(proc, "sys/kernel/osrelease"))
	if f, err := os.Open(filepath.Join(proc, "stat")); err == nil {
		h.BootTime = parseBootTime(f)
		f.Close()
	}
	if f, err := os.Open(filepath.Join(proc, "meminfo")); err == nil {
		h.MemoryBytes = parseMemTotal(f)
		f.Close()
	}
	// runtime.NumCPU is this process's affinity mask, not the host; the
	// online list is what the host really has.
	h.CPUs = parseCPUList(firstLine(filepath.Join(sys, "devices/system/cpu/online")))
	if h.CPUs == 0 {
		h.CPUs = runtime.NumCPU()
	}
	return h
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// parseBootTime reads "btime <unix seconds>" from /proc/stat.
func parseBootTime(r io.Reader) time.Time {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			if s, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64); err == nil {
				return time.Unix(s, 0).UTC()
			}
		}
	}
	return time.Time{}
}

// parseMemTotal reads "MemTotal: N kB" from /proc/meminfo.
func parseMemTotal(r io.Reader) uint64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// parseCPUList counts CPUs in a kernel cpu list such as "0-3,6,8-9".
func parseCPUList(s string) int {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}
