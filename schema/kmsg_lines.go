package schema

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/stakeout/stakeout/event"
)

// Kernel log lines that name a culprit. The detectors and the kmsg pane
// both classify kmsg events with ParseKernelLine, so a recording made before
// a pattern was added gets it on replay.

// KernelLine is what ParseKernelLine recognised; exactly one field is set.
type KernelLine struct {
	Segfault      *SegfaultLine
	OOMKill       *OOMKillLine
	OOMConstraint *OOMConstraintLine
	HungTask      *HungTaskLine
	IOError       *IOErrorLine
	ConntrackFull bool // "nf_conntrack: table full, dropping packet"
}

// SegfaultLine is the kernel's report of a user-space SIGSEGV
// (show_signal_msg, logged when debug.exception-trace is 1).
type SegfaultLine struct {
	PID    int    `json:"pid"`
	Comm   string `json:"comm"`
	Addr   string `json:"addr"`  // faulting address, hex
	IP     string `json:"ip"`    // instruction pointer, hex
	SP     string `json:"sp"`    // stack pointer, hex
	Error  string `json:"error"` // page-fault error code: 4 user read, 6 user write, 14/15 exec…
	Object string `json:"object,omitempty"`
}

// OOMKillLine is "Killed process PID (COMM) total-vm:…, anon-rss:…".
type OOMKillLine struct {
	PID   int    `json:"pid"`
	Comm  string `json:"comm"`
	RSSKB uint64 `json:"rss_kb"` // anon + file + shmem resident memory when killed
	Memcg bool   `json:"memcg"`  // "Memory cgroup out of memory": a cgroup limit, not the host
}

// OOMConstraintLine is the "oom-kill:constraint=…,task=…,pid=…" summary the
// kernel (4.19+) logs just before the kill.
type OOMConstraintLine struct {
	Constraint string // CONSTRAINT_NONE, CONSTRAINT_MEMCG, CONSTRAINT_CPUSET, CONSTRAINT_MEMORY_POLICY
	PID        int
}

// HungTaskLine is khungtaskd's "INFO: task COMM:PID blocked for more than N seconds."
type HungTaskLine struct {
	PID     int    `json:"pid"`
	Comm    string `json:"comm"`
	Seconds int    `json:"seconds"`
}

// IOErrorLine is a block-layer I/O error on a device.
type IOErrorLine struct {
	Device string `json:"device"`
	// Sector is the first 512-byte sector of the failed request; for
	// "Buffer I/O error … logical block N" it is nil and Block is set.
	Sector *uint64 `json:"sector,omitempty"`
	Block  *uint64 `json:"logical_block,omitempty"`
	Op     string  `json:"op,omitempty"` // READ, WRITE, … when the kernel says
}

var (
	// The old format ends "in OBJ[base+size]"; since 6.2 it is
	// "in OBJ[offset,base+size] likely on CPU n"; with no mapping there is no "in".
	reSegfault = regexp.MustCompile(`^(.*)\[(\d+)\]: segfault at ([0-9a-fA-F]+) ip ([0-9a-fA-F]+) sp ([0-9a-fA-F]+) error ([0-9a-fA-F]+)(?: in ([^\[]*)\[)?`)
	// Every kernel since 2.6 logs "Killed process"; before 4.x it came after
	// a separate "Kill process N (comm) score …" line, which is not counted.
	reOOMKill      = regexp.MustCompile(`Killed process (\d+) \((.*)\) total-vm:\d+kB, anon-rss:(\d+)kB, file-rss:(\d+)kB(?:, shmem-rss:(\d+)kB)?`)
	reOOMConstrain = regexp.MustCompile(`oom-kill:constraint=(\w+),.*,pid=(\d+)`)
	reHungTask     = regexp.MustCompile(`^INFO: task (.*):(\d+) blocked for more than (\d+) seconds`)
	reIOError      = regexp.MustCompile(`I/O error, dev ([^,\s]+), sector (\d+)(?: op 0x[0-9a-f]+:\((\w+)\))?`)
	reBufferIO     = regexp.MustCompile(`Buffer I/O error on dev(?:ice)? ([^,\s]+), logical block (\d+)`)
	// "[  12.345678] " as dmesg prints it, kept in log files and stories.
	reDmesgStamp = regexp.MustCompile(`^\[\s*\d+\.\d+\]\s*`)
)

// ParseKernelLine classifies one kernel log message. It returns false for
// the vast majority of lines, which name nothing.
func ParseKernelLine(text string) (KernelLine, bool) {
	text = reDmesgStamp.ReplaceAllString(text, "")
	switch {
	case strings.Contains(text, "segfault at"):
		if m := reSegfault.FindStringSubmatch(text); m != nil {
			return KernelLine{Segfault: &SegfaultLine{PID: KAtoi(m[2]), Comm: strings.TrimSpace(m[1]),
				Addr: m[3], IP: m[4], SP: m[5], Error: m[6], Object: strings.TrimSpace(m[7])}}, true
		}
	case strings.Contains(text, "table full, dropping packet"):
		return KernelLine{ConntrackFull: true}, true
	case strings.Contains(text, "Killed process"):
		memcg := strings.HasPrefix(text, "Memory cgroup out of memory")
		if m := reOOMKill.FindStringSubmatch(text); m != nil {
			// Bounded so that its bytes (×1024) fit an int64 however
			// many digits the line has.
			rss := min(event.AddCount(event.AddCount(kAtou(m[3]), kAtou(m[4])), kAtou(m[5])), math.MaxInt64/1024)
			return KernelLine{OOMKill: &OOMKillLine{PID: KAtoi(m[1]), Comm: m[2], RSSKB: rss, Memcg: memcg}}, true
		}
	case strings.HasPrefix(text, "oom-kill:"):
		if m := reOOMConstrain.FindStringSubmatch(text); m != nil {
			return KernelLine{OOMConstraint: &OOMConstraintLine{Constraint: m[1], PID: KAtoi(m[2])}}, true
		}
	case strings.HasPrefix(text, "INFO: task "):
		if m := reHungTask.FindStringSubmatch(text); m != nil {
			return KernelLine{HungTask: &HungTaskLine{Comm: m[1], PID: KAtoi(m[2]), Seconds: KAtoi(m[3])}}, true
		}
	case strings.Contains(text, "I/O error"):
		if m := reIOError.FindStringSubmatch(text); m != nil {
			s := kAtou(m[2])
			return KernelLine{IOError: &IOErrorLine{Device: m[1], Sector: &s, Op: m[3]}}, true
		}
		if m := reBufferIO.FindStringSubmatch(text); m != nil {
			b := kAtou(m[2])
			return KernelLine{IOError: &IOErrorLine{Device: m[1], Block: &b}}, true
		}
	}
	return KernelLine{}, false
}

func KAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func kAtou(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// kmsgLevels names the kernel log levels 0 to 7.
var KmsgLevels = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}
