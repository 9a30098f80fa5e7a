package schema

import (
	"time"

	"github.com/stakeout/stakeout/event"
)

// KindKmsg is one kernel log record read from /dev/kmsg.
const KindKmsg = "kmsg"

// Kmsg is one kernel log record. The event's time is the record's kernel
// timestamp converted to wall time for lines logged before stakeout caught
// up with the buffer (Backlog), and the time it was read for lines logged
// while it watched: printk's clock drifts from wall time over a long uptime
// (as `dmesg -T` shows), and a live line is read within milliseconds.
type Kmsg struct {
	Level    string `json:"level"`     // "emerg" … "debug"
	Priority int    `json:"priority"`  // syslog level 0-7 (0 most severe)
	Facility string `json:"facility"`  // "kern" for the kernel, "user" for lines written to /dev/kmsg
	Seq      uint64 `json:"seq"`       // the kernel's record sequence number
	KernelUS uint64 `json:"kernel_us"` // printk timestamp: µs since boot
	Text     string `json:"text"`      // the message as the kernel escaped it (\xNN for non-printables)
	// Device and Subsystem come from the record's dictionary (DEVICE=, SUBSYSTEM=), when given.
	Device    string `json:"device,omitempty"`
	Subsystem string `json:"subsystem,omitempty"`
	Cont      bool   `json:"cont,omitempty"`    // a continuation fragment (flag 'c')
	Backlog   bool   `json:"backlog,omitempty"` // logged before the session, read from the buffer
	// Lost counts records the kernel overwrote before stakeout read them
	// (EPIPE), just before this one.
	Lost uint64 `json:"lost,omitempty"`
	// Crash is, on a segfault line read live, what decides whether the
	// crash left a core, read from /proc the moment the line was read.
	Crash *CrashFacts `json:"crash,omitempty"`
}

// CrashFacts are the settings a core dump depends on at the moment of a
// crash: the crashed process's core size limit (RLIMIT_CORE), if it could
// still be read (a process with a limit of 0 is usually reaped within
// milliseconds, so often it could not), and the system's core_pattern and
// suid_dumpable.
type CrashFacts struct {
	// TGID is the crashed thread's process (a segfault line names the thread).
	TGID int `json:"tgid,omitempty"`
	// CoreSoft and CoreHard are its RLIMIT_CORE in bytes, -1 unlimited;
	// absent when Gone.
	CoreSoft *int64 `json:"core_soft,omitempty"`
	CoreHard *int64 `json:"core_hard,omitempty"`
	// Gone says the process had been reaped before its limit was read
	// (or its pid already named another process).
	Gone             bool   `json:"gone,omitempty"`
	CorePattern      string `json:"core_pattern"`
	PipeTarget       string `json:"pipe_target,omitempty"`
	PipeTargetExists *bool  `json:"pipe_target_exists,omitempty"`
	SuidDumpable     int    `json:"suid_dumpable"`
}

func (Kmsg) EventKind() string { return KindKmsg }

func init() {
	event.Register(KindKmsg, func() event.Body { return &Kmsg{} }, event.Traits{Occurrence: true})
}

// KmsgConfig holds the kmsg probe's flags.
type KmsgConfig struct {
	Backlog time.Duration // --kmsg-backlog: how far before the session to read the buffer
	// Dev is the root of /dev ("/dev" when empty); tests point it at a
	// fixture tree whose dev/kmsg is a regular file of records.
	Dev string
}
