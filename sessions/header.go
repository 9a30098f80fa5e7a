package sessions

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
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

// Bounds of a header's numbers and times. A value outside them (a corrupt
// or hostile file) is read as unknown, zero, as a fact HostHeader could not
// read is: nothing prints an absurd figure or fails on it.
const (
	maxHeaderCPUs     = 1 << 16        // the kernel's NR_CPUS tops out at 8192
	maxHeaderMemory   = 1 << 60        // 1 EiB; x86-64 addresses 4 PiB
	maxHeaderInterval = 24 * time.Hour // --interval is 10 ms and up
	maxFormatVersion  = 1<<16 - 1      // the preamble's u16
)

var (
	minHeaderTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxHeaderTime = maxIndexTime // 2200, as the time index
)

// UnmarshalJSON reads a header field by field: a field of the wrong type or
// out of bounds (see maxHeaderCPUs) is left zero instead of making the
// whole file unreadable, and numbers are bounded as an event's are. Only a
// header that is neither a JSON object nor null is an error.
func (h *Header) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*h = Header{} // null too: an empty header, as json.Unmarshal reads one
	// A field absent or of the wrong type stays zero.
	field := func(name string, v any) { _ = json.Unmarshal(m[name], v) }
	field("hostname", &h.Hostname)
	field("kernel", &h.Kernel)
	field("stakeout_version", &h.StakeoutVersion)
	var cmd []json.RawMessage
	field("command", &cmd)
	for _, a := range cmd {
		var s string
		_ = json.Unmarshal(a, &s)
		h.Command = append(h.Command, s)
	}
	h.FormatVersion = int(headerInt(m["format_version"], 0, maxFormatVersion))
	h.CPUs = int(headerInt(m["cpus"], 0, maxHeaderCPUs))
	h.MemoryBytes = uint64(headerInt(m["memory_bytes"], 0, maxHeaderMemory))
	h.Interval = time.Duration(headerInt(m["interval_ns"], 0, int64(maxHeaderInterval)))
	h.BootTime = headerTime(m["boot_time"])
	h.Started = headerTime(m["started"])
	var x map[string]json.RawMessage
	if field("extract", &x); x != nil {
		h.Extract = &ExtractInfo{SourceStarted: headerTime(x["source_started"]),
			Since: headerTime(x["since"]), Until: headerTime(x["until"]), From: headerTime(x["from"])}
		_ = json.Unmarshal(x["source"], &h.Extract.Source)
	}
	if d, ok := m["detectors"]; ok && string(d) != "null" {
		h.Detectors = append(json.RawMessage(nil), d...)
	}
	return nil
}

// headerInt reads a whole number within [lo, hi], else 0: 17179869184,
// 1.7179869184e10 and 8.0 are read; 2.5, 1e30, true and -1 (for lo 0) are
// not.
func headerInt(raw json.RawMessage, lo, hi int64) int64 {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return 0
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
			return 0
		}
		v = int64(f)
	}
	if v < lo || v > hi {
		return 0
	}
	return v
}

// headerTime reads an RFC 3339 time between 1970 and 2200, else zero.
func headerTime(raw json.RawMessage) time.Time {
	var t time.Time
	if json.Unmarshal(raw, &t) != nil || t.Before(minHeaderTime) || t.After(maxHeaderTime) {
		return time.Time{}
	}
	return t
}
