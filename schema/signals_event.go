package schema

import (
	"strconv"
	"time"

	"github.com/stakeout/stakeout/event"
)

// Kinds the signals probe emits. Their JSON field names are a public contract.
const (
	KindSignal = "signal" // a signal reached a traced thread (signal-delivery-stop)
	KindFork   = "fork"   // a traced process forked, vforked or cloned a new process
	KindExec   = "exec"   // a traced process executed a new program
	KindExit   = "exit"   // a traced process ended
	KindTrace  = "trace"  // the probe attached to, detached from or failed on a process
)

// Signal is one signal at the moment the kernel delivers it to a traced
// thread, read from PTRACE_GETSIGINFO. Sender fields are set only when the
// kernel records a sender (si_code SI_USER, SI_QUEUE, SI_TKILL); SIGCHLD
// carries the child instead, faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE) the
// address. SIGKILL is never seen here: it kills without a delivery stop.
type Signal struct {
	PID    int    `json:"pid"`
	TID    int    `json:"tid"`
	Comm   string `json:"comm"`
	Signal string `json:"signal"` // "SIGHUP"
	Signo  int    `json:"signo"`
	Code   string `json:"code"` // "SI_USER", "SI_TKILL", "CLD_EXITED", "SEGV_MAPERR", …

	SenderPID  int    `json:"sender_pid,omitempty"`
	SenderUID  *int   `json:"sender_uid,omitempty"`  // pointer: uid 0 is root, not "none"
	SenderComm string `json:"sender_comm,omitempty"` // "exited" when the sender was gone before it could be read

	// More about the sender, read from /proc when the signal is handled
	// (and kept per sender for a few seconds); empty when it had exited.
	SenderPPID       int    `json:"sender_ppid,omitempty"`
	SenderParentComm string `json:"sender_parent_comm,omitempty"`
	SenderCgroup     string `json:"sender_cgroup,omitempty"` // "/system.slice/logrotate.service"
	SenderUnit       string `json:"sender_unit,omitempty"`   // the systemd service or scope of that cgroup
	SenderTTY        string `json:"sender_tty,omitempty"`    // controlling terminal: "pts/3", "tty1"

	Addr     string `json:"addr,omitempty"`      // faulting address, hex, for SIGSEGV/SIGBUS/SIGILL/SIGFPE
	ChildPID int    `json:"child_pid,omitempty"` // SIGCHLD: which child
	Status   string `json:"status,omitempty"`    // SIGCHLD: "exited 0", "killed by SIGTERM", "stopped by SIGSTOP"
	TimerID  *int   `json:"timer_id,omitempty"`  // SI_TIMER: the POSIX timer

	// Set in host mode only, which sees signals when they are sent
	// (signal:signal_generate), not when they are delivered; and on the
	// delivery ptrace sees of a process attached meanwhile.
	Source string `json:"source,omitempty"` // "tracefs"; "ptrace" for a delivery host mode also saw sent (Duplicate)
	Result string `json:"result,omitempty"` // "delivered", "ignored", "already pending" (merged), "overflow", "lost info"
}

// SignalIgnored is the Result of a signal the kernel dropped as it was
// sent: the process ignores it, or is already dying.
const SignalIgnored = "ignored"

// SourcePtrace is the Source of a signal ptrace saw delivered to a process
// attached from the signals pane while host mode follows the host: host
// mode recorded the same signal when it was sent.
const SourcePtrace = "ptrace"

// Duplicate says s is the delivery of a signal already recorded when it
// was sent (SourcePtrace): shown, but never counted a second time by a
// detector or a summary.
func (s *Signal) Duplicate() bool { return s.Source == SourcePtrace }

func (Signal) EventKind() string { return KindSignal }

// Fork is a new process made by a traced one; the child is traced from its
// first instruction (PTRACE_O_TRACEFORK/VFORK/CLONE).
type Fork struct {
	PID      int    `json:"pid"` // the parent
	Comm     string `json:"comm"`
	ChildPID int    `json:"child_pid"`
	How      string `json:"how"` // "fork", "vfork" or "clone"
}

func (Fork) EventKind() string { return KindFork }

// Exec is a traced process replacing its program (PTRACE_EVENT_EXEC).
type Exec struct {
	PID      int    `json:"pid"`
	OldComm  string `json:"old_comm"`
	Comm     string `json:"comm"`
	Filename string `json:"filename"` // /proc/PID/exe after the exec
}

func (Exec) EventKind() string { return KindExec }

// Exit is the end of a traced process (its thread-group leader was reaped).
type Exit struct {
	PID      int    `json:"pid"`
	Comm     string `json:"comm"`
	Status   string `json:"status"`              // "exited 0" or "killed by SIGKILL"
	ExitCode *int   `json:"exit_code,omitempty"` // set when it exited
	Signal   string `json:"signal,omitempty"`    // set when a signal killed it
	Core     bool   `json:"core,omitempty"`      // the kernel dumped core
}

func (Exit) EventKind() string { return KindExit }

// Trace states.
const (
	TraceAttached = "attached"
	TraceDetached = "detached"
	TraceFailed   = "failed"
)

// Trace says what the probe did to a process, so a reader knows which
// processes were watched, and from when.
type Trace struct {
	PID     int    `json:"pid"`
	Comm    string `json:"comm,omitempty"`
	State   string `json:"state"`             // attached, detached or failed
	Threads int    `json:"threads,omitempty"` // threads seized or released
	Reason  string `json:"reason,omitempty"`  // why it failed
}

func (Trace) EventKind() string { return KindTrace }

func init() {
	event.Register(KindSignal, func() event.Body { return &Signal{} }, event.Traits{Occurrence: true})
	event.Register(KindFork, func() event.Body { return &Fork{} }, event.Traits{Occurrence: true})
	event.Register(KindExec, func() event.Body { return &Exec{} }, event.Traits{Occurrence: true})
	event.Register(KindExit, func() event.Body { return &Exit{} }, event.Traits{Occurrence: true})
	event.Register(KindTrace, func() event.Body { return &Trace{} }, event.Traits{Entity: func(b event.Body) string {
		if t, ok := event.As[Trace](event.Event{Body: b}); ok {
			return strconv.Itoa(t.PID)
		}
		return ""
	}})
}

// SignalsConfig holds the signals probe's flags.
type SignalsConfig struct {
	PIDs  []int    // --pid, repeatable
	Procs []string // --proc, repeatable: comm or exe basename
	Mode  string   // --signals: "" (host-wide, or ptrace the --pid/--proc targets), "host" (tracefs, every process) or "off"
	// Include lists signals host mode records although it leaves them out
	// by default (SIGURG), from --signals-include.
	Include []string
	// BurstWindow is the signal.burst detector's window (--burst-window);
	// it lives here because probe flags are where flags are bound.
	BurstWindow time.Duration
}

// DefaultBurstWindow is --burst-window's default: two logrotate HUPs a few
// ms apart are a burst, a heartbeat once a second is not.
const DefaultBurstWindow = 100 * time.Millisecond

var signalNames = [...]string{"", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
	"SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
	"SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ",
	"SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"}

// SignalName names a Linux signal number: "SIGHUP", "SIGRTMIN+3", "SIG70".
func SignalName(n int) string {
	switch {
	case n > 0 && n < len(signalNames):
		return signalNames[n]
	case n == 34:
		return "SIGRTMIN"
	case n > 34 && n <= 64:
		return "SIGRTMIN+" + strconv.Itoa(n-34)
	}
	return "SIG" + strconv.Itoa(n)
}
