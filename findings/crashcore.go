package findings

import (
	"fmt"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Whether a crash left a core dump, and if not why: the part of
// kernel.segfault's and process.killed's data that joins a crash to the
// core-dump settings in force when it happened. The facts come from the
// event stream only: the kmsg probe's reading of the crashed process and
// of core_pattern the moment it read the segfault line (schema.CrashFacts),
// the coredump probe's latest core_readiness, and for a traced process the
// kernel's own word in its exit status.

// Core dump outcomes.
const (
	CoreWritten = "written" // the exit status says the kernel dumped core
	CoreLost    = "lost"    // none was dumped, or a setting in force forbids it
	CoreLikely  = "likely"  // no known setting stops it; not seen written
	CoreUnknown = "unknown" // what would decide it was not known at the time
)

// CoreOutcome is a crash's core dump: the outcome, in words why, and the
// facts it rests on where known.
type CoreOutcome struct {
	CoreDump   string `json:"core_dump,omitempty"`
	CoreReason string `json:"core_reason,omitempty"`
	// The crashed process's RLIMIT_CORE (bytes, -1 unlimited), if known.
	CoreLimitSoft *int64 `json:"core_limit_soft,omitempty"`
	CoreLimitHard *int64 `json:"core_limit_hard,omitempty"`
	// CorePattern is kernel.core_pattern when it crashed, if known.
	CorePattern *string `json:"core_pattern,omitempty"`
}

// summary is the outcome as the end of a finding's summary.
func (o CoreOutcome) summary() string {
	r := event.Sanitize(o.CoreReason)
	switch o.CoreDump {
	case CoreWritten:
		return " (core dumped)"
	case CoreLost:
		return "; no core dump: " + r
	case CoreLikely:
		return "; a core dump is likely: " + r
	case CoreUnknown:
		return "; whether it left a core dump is unknown: " + r
	}
	return ""
}

const (
	crashFactsKept = 64               // recent segfault lines' facts, for a traced process's exit
	crashFactsFor  = 10 * time.Second // how long after its line an exit may use them
	minCorePage    = 4096             // ELF's smallest core (a page): a smaller limit dumps nothing to a file
)

type crashSeen struct {
	at    time.Time
	comm  string
	facts schema.CrashFacts
}

// coreFacts keeps what the stream has said about core dumps.
type coreFacts struct {
	ready   *schema.CoreReadiness // the latest core_readiness
	crashes map[int]crashSeen     // pid (and tgid) of recent segfault lines with facts
}

func newCoreFacts() coreFacts { return coreFacts{crashes: map[int]crashSeen{}} }

// observe takes the core_readiness and kmsg events.
func (c *coreFacts) observe(ev event.Event) {
	if r, ok := event.As[schema.CoreReadiness](ev); ok {
		cp := *r
		cp.NoCore = append([]schema.CoreLimit(nil), r.NoCore...)
		cp.Limits = append([]schema.CoreLimit(nil), r.Limits...)
		c.ready = &cp
		return
	}
	k, ok := event.As[schema.Kmsg](ev)
	if !ok || k.Crash == nil {
		return
	}
	l, ok := schema.ParseKernelLine(k.Text)
	if !ok || l.Segfault == nil {
		return
	}
	if len(c.crashes) >= crashFactsKept {
		for pid, s := range c.crashes {
			if ev.Time.Sub(s.at) >= crashFactsFor || len(c.crashes) >= crashFactsKept {
				delete(c.crashes, pid)
			}
		}
	}
	s := crashSeen{at: ev.Time, comm: l.Segfault.Comm, facts: *k.Crash}
	c.crashes[l.Segfault.PID] = s
	if k.Crash.TGID != 0 {
		c.crashes[k.Crash.TGID] = s
	}
}

// limitOf finds pid's core size limit in the latest readiness, if it was
// read there (by pid and comm: a pid can be reused).
func (c *coreFacts) limitOf(pid int, comm string) (soft, hard *int64) {
	if c.ready == nil {
		return nil, nil
	}
	for _, list := range [][]schema.CoreLimit{c.ready.Limits, c.ready.NoCore} {
		for _, l := range list {
			if l.PID == pid && (comm == "" || l.Comm == comm) {
				s, h := l.Soft, l.Hard
				return &s, &h
			}
		}
	}
	return nil, nil
}

// segfault judges the core dump of a segfault line's process. facts is
// what the kmsg probe read with the line (nil for a line from the backlog
// or a recording made before it read them).
func (c *coreFacts) segfault(s schema.SegfaultLine, facts *schema.CrashFacts, backlog bool) CoreOutcome {
	if backlog {
		return CoreOutcome{CoreDump: CoreUnknown,
			CoreReason: "the settings in force then were not seen"}
	}
	var o CoreOutcome
	var pipeExists *bool
	suid := -1
	switch {
	case facts != nil:
		p := facts.CorePattern
		o.CorePattern, pipeExists, suid = &p, facts.PipeTargetExists, facts.SuidDumpable
		o.CoreLimitSoft, o.CoreLimitHard = facts.CoreSoft, facts.CoreHard
	case c.ready != nil:
		p := c.ready.CorePattern
		o.CorePattern, pipeExists, suid = &p, c.ready.PipeTargetExists, c.ready.SuidDumpable
	}
	// Else the coredump probe's last reading of the process, if it read it.
	// It lists processes; the line names a thread, which is the process
	// (with its comm) unless the crash was in another thread.
	if o.CoreLimitSoft == nil && facts != nil && facts.TGID != 0 {
		o.CoreLimitSoft, o.CoreLimitHard = c.limitOf(facts.TGID, "")
	}
	if o.CoreLimitSoft == nil {
		o.CoreLimitSoft, o.CoreLimitHard = c.limitOf(s.PID, s.Comm)
	}
	why := "its core size limit was not recorded"
	if facts != nil && facts.Gone {
		why = "it was gone before its core size limit could be read"
	}
	c.judge(&o, pipeExists, suid, why)
	return o
}

// killed judges the core dump of a traced process killed by a signal that
// dumps core: the exit status says whether it did, the settings say why not.
func (c *coreFacts) killed(pid int, comm string, at time.Time, dumped bool) CoreOutcome {
	var o CoreOutcome
	var pipeExists *bool
	suid := -1
	if s, ok := c.crashes[pid]; ok && at.Sub(s.at) < crashFactsFor && !at.Before(s.at) {
		f := s.facts
		p := f.CorePattern
		o.CorePattern, pipeExists, suid = &p, f.PipeTargetExists, f.SuidDumpable
		o.CoreLimitSoft, o.CoreLimitHard = f.CoreSoft, f.CoreHard
	} else if c.ready != nil {
		p := c.ready.CorePattern
		o.CorePattern, pipeExists, suid = &p, c.ready.PipeTargetExists, c.ready.SuidDumpable
	}
	if o.CoreLimitSoft == nil {
		o.CoreLimitSoft, o.CoreLimitHard = c.limitOf(pid, comm)
	}
	if dumped {
		o.CoreDump, o.CoreReason = CoreWritten, "the kernel's exit status says it dumped core"
		return o
	}
	c.judge(&o, pipeExists, suid, "its core size limit was not recorded")
	switch o.CoreDump {
	case CoreLikely:
		o.CoreReason = "the kernel dumped none, for a reason stakeout cannot see (the process made itself " +
			"undumpable, its working directory is not writable, the disk is full, …); " + o.CoreReason
	case CoreUnknown:
		o.CoreReason = "the kernel dumped none; " + o.CoreReason
	}
	o.CoreDump = CoreLost
	return o
}

// judge decides from the pattern and limit in o. why says why the limit
// is unknown, if it is.
func (c *coreFacts) judge(o *CoreOutcome, pipeExists *bool, suid int, why string) {
	if o.CorePattern == nil {
		o.CoreDump = CoreUnknown
		o.CoreReason = why + ", and core_pattern was not read (the coredump probe was not running)"
		return
	}
	pattern := *o.CorePattern
	target, pipe := schema.PipeTarget(pattern)
	helper := pipeName(target)
	honours := helper == "apport" || helper == "systemd-coredump"
	soft := o.CoreLimitSoft
	switch {
	case strings.TrimSpace(pattern) == "":
		o.CoreDump, o.CoreReason = CoreLost, "core_pattern is empty"
	case pipe && pipeExists != nil && !*pipeExists:
		o.CoreDump, o.CoreReason = CoreLost, fmt.Sprintf("core_pattern pipes to %s, which does not exist on this host", target)
	case soft != nil && pipe && *soft == 1:
		o.CoreDump, o.CoreReason = CoreLost, "its core size limit was 1, which tells the kernel to pipe no core"
	case soft != nil && pipe && *soft == 0 && honours:
		o.CoreDump, o.CoreReason = CoreLost, fmt.Sprintf("its core size limit (ulimit -c) was 0, and %s honours it", helper)
	case pipe && (soft != nil || !honours):
		o.CoreDump, o.CoreReason = CoreLikely, fmt.Sprintf("core_pattern pipes it to %s", target)
		if !honours {
			o.CoreReason += " (the kernel ignores the size limit for a pipe)"
		}
	case soft != nil && *soft == 0:
		o.CoreDump, o.CoreReason = CoreLost, "its core size limit (ulimit -c) was 0"
	case soft != nil && *soft > 0 && *soft < minCorePage:
		o.CoreDump, o.CoreReason = CoreLost, fmt.Sprintf("its core size limit was %d bytes, less than a page", *soft)
	case soft != nil:
		o.CoreDump = CoreLikely
		o.CoreReason = "core_pattern " + pattern
		if !strings.HasPrefix(pattern, "/") {
			o.CoreReason += " (in its working directory)"
		}
		lim := "unlimited"
		if *soft >= 0 {
			lim = event.HumanBytes(*soft)
		}
		o.CoreReason += ", core size limit " + lim
		if *soft >= 0 {
			o.CoreReason += " (a larger core is cut short)"
		}
	default:
		o.CoreDump, o.CoreReason = CoreUnknown, why
		if r := c.ready; r != nil && !r.Watched && r.ZeroLimit > 0 {
			o.CoreReason += fmt.Sprintf("; %d of %d processes here have a core size limit of 0", r.ZeroLimit, r.Processes)
		}
	}
	if o.CoreDump == CoreLikely && suid == 0 {
		o.CoreReason += "; none if it had changed user (suid_dumpable is 0)"
	}
}

// coreSignals are the signals whose default action dumps core (signal(7)).
var coreSignals = map[string]bool{"SIGQUIT": true, "SIGILL": true, "SIGTRAP": true, "SIGABRT": true, "SIGIOT": true,
	"SIGBUS": true, "SIGFPE": true, "SIGSEGV": true, "SIGXCPU": true, "SIGXFSZ": true, "SIGSYS": true}
