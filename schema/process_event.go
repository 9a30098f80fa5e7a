package schema

// The process inspector's event: what /proc said of one process at one
// moment, saved by hand (s in the inspector) or taken at once when a
// finding names a live process.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stakeout/stakeout/event"
)

// KindProcessSnapshot is one process as /proc showed it. Its events carry
// ProbeProcess as their probe: no --probes entry makes them, so no pane
// shows them as a probe of its own.
const (
	KindProcessSnapshot = "process_snapshot"
	ProbeProcess        = "process"
)

// Caps that bound one snapshot whatever the process holds: a process with
// 10,000 threads or fds gives an event of at most MaxSnapshotBytes of JSON,
// well inside a recording's 1 MiB record limit. The README lists them.
const (
	MaxSnapThreadsScanned = 1024 // threads whose state is read and counted (ThreadStates)
	MaxSnapThreads        = 64   // threads listed with wchan and kernel stack
	MaxSnapStackLines     = 32   // lines of one thread's kernel stack
	MaxSnapFDs            = 256  // fds listed with their target
	MaxSnapParents        = 32   // ancestors in the parent chain
	MaxSnapArgs           = 256  // cmdline arguments
	MaxSnapCmdline        = 4096 // bytes of cmdline, all arguments together
	MaxSnapString         = 256  // bytes of any other string (an fd's target, a stack line, the cgroup)
	MaxSnapErrors         = 8    // what could not be read
	MaxSnapshotBytes      = 256 << 10
)

// ProcessSnapshot is one process as /proc showed it. Its JSON field names
// are a public contract (README: Event kinds).
type ProcessSnapshot struct {
	PID     int      `json:"pid"`
	Comm    string   `json:"comm"`
	Cmdline []string `json:"cmdline"`
	// State is the letter ps shows (R, S, D, T, t, Z, X, I); StateName
	// spells it out.
	State string `json:"state"`
	// Wchan is the kernel function the process (its main thread) sleeps
	// in; empty while it runs.
	Wchan string `json:"wchan,omitempty"`
	PPID  int    `json:"ppid"`
	// Parents is the parent chain, nearest first, up to pid 1.
	Parents []ProcRef `json:"parents,omitempty"`
	// UID and EUID are the real and effective user ids.
	UID     int       `json:"uid"`
	EUID    int       `json:"euid"`
	Started time.Time `json:"started,omitzero"` // when the process started (boot time + its start tick)
	// Cgroup is its cgroup v2 path ("/system.slice/nginx.service"), or
	// on a v1-only host its hierarchies' lines joined with ";".
	Cgroup string `json:"cgroup"`
	// Threads lists up to MaxSnapThreads threads with their wait channel
	// and kernel stack: those in uninterruptible sleep (D) first, then the
	// main thread, then the rest by tid. ThreadsTotal is how many the
	// process had; ThreadStates counts the states of the first
	// MaxSnapThreadsScanned of them.
	Threads      []ThreadSnap   `json:"threads"`
	ThreadsTotal int            `json:"threads_total"`
	ThreadStates map[string]int `json:"thread_states,omitempty"`
	// FDs lists up to MaxSnapFDs open fds, lowest first, with what each
	// points at ("/var/log/app.log", "socket:[81234]"); FDsTotal is how
	// many it had open.
	FDs      []FDSnap `json:"fds"`
	FDsTotal int      `json:"fds_total"`
	// Limits are its resource limits by their prlimit(1) names ("core",
	// "nofile", …), each soft and hard, -1 for unlimited.
	Limits map[string]Limit `json:"limits"`
	IO     *ProcIO          `json:"io,omitempty"`
	// Finding is the key of the finding the snapshot was taken for
	// ("signal.burst 812 SIGHUP"); empty when saved by hand.
	Finding string `json:"finding,omitempty"`
	// Truncated says a cap left something out (more threads, fds, stack
	// lines or arguments than listed, or a string cut).
	Truncated bool `json:"truncated,omitempty"`
	// Errors say what could not be read ("stack: permission denied").
	Errors []string `json:"errors,omitempty"`
}

func (ProcessSnapshot) EventKind() string { return KindProcessSnapshot }

// ProcRef names a process.
type ProcRef struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
}

// ThreadSnap is one thread: its state letter, wait channel and kernel
// stack, innermost frame first, without the "[<0>] " prefix.
type ThreadSnap struct {
	TID   int      `json:"tid"`
	Comm  string   `json:"comm,omitempty"`
	State string   `json:"state"`
	Wchan string   `json:"wchan,omitempty"`
	Stack []string `json:"stack,omitempty"`
}

// FDSnap is one open file descriptor and what it points at.
type FDSnap struct {
	FD     int    `json:"fd"`
	Target string `json:"target"`
}

// Limit is one resource limit, -1 for unlimited; Unit as /proc says it
// ("bytes", "seconds", "files"; empty for counts).
type Limit struct {
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
	Unit string `json:"unit,omitempty"`
}

// ProcIO is /proc/PID/io: bytes and calls through read and write, and
// bytes that reached (or were fetched from) storage.
type ProcIO struct {
	RChar               uint64 `json:"rchar"`
	WChar               uint64 `json:"wchar"`
	SyscR               uint64 `json:"syscr"`
	SyscW               uint64 `json:"syscw"`
	ReadBytes           uint64 `json:"read_bytes"`
	WriteBytes          uint64 `json:"write_bytes"`
	CancelledWriteBytes int64  `json:"cancelled_write_bytes"`
}

func init() {
	event.Register(KindProcessSnapshot, func() event.Body { return &ProcessSnapshot{} }, event.Traits{Occurrence: true})
}

// stateNames spells out the state letters of proc(5).
var stateNames = map[string]string{
	"R": "running", "S": "sleeping", "D": "uninterruptible sleep", "T": "stopped",
	"t": "tracing stop", "Z": "zombie", "X": "dead", "I": "idle", "P": "parked", "W": "waking",
}

// StateName is a state letter with its meaning: "D (uninterruptible sleep)".
func StateName(s string) string {
	if n, ok := stateNames[s]; ok {
		return s + " (" + n + ")"
	}
	return s
}

// CoreLimit is the snapshot's core size limit as a person reads it: "0",
// "unlimited", "1.0 MiB", with the hard limit when it differs ("0, hard
// unlimited"); "" when the limits were not read.
func (s *ProcessSnapshot) CoreLimit() string {
	l, ok := s.Limits["core"]
	if !ok {
		return ""
	}
	v := func(n int64) string {
		switch {
		case n < 0:
			return "unlimited"
		case n == 0:
			return "0"
		}
		return event.HumanBytes(n)
	}
	if l.Soft == l.Hard {
		return v(l.Soft)
	}
	return v(l.Soft) + ", hard " + v(l.Hard)
}

// ThreadSummary counts the threads by state, busiest first, with the most
// common wait channel of each listed state: "3 S (futex_wait_queue), 1 R".
func (s *ProcessSnapshot) ThreadSummary() string {
	type st struct {
		state string
		n     int
	}
	var states []st
	for k, n := range s.ThreadStates {
		states = append(states, st{k, n})
	}
	sort.Slice(states, func(i, j int) bool {
		if states[i].n != states[j].n {
			return states[i].n > states[j].n
		}
		return states[i].state < states[j].state
	})
	parts := make([]string, 0, len(states))
	for _, x := range states {
		wch := map[string]int{}
		for _, t := range s.Threads {
			if t.State == x.state && t.Wchan != "" {
				wch[t.Wchan]++
			}
		}
		best, bn := "", 0
		for w, n := range wch {
			if n > bn || (n == bn && w < best) {
				best, bn = w, n
			}
		}
		p := fmt.Sprintf("%d %s", x.n, x.state)
		if best != "" {
			p += " (" + best + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// Line is the snapshot in one line of words, for the report, the handoff
// and the timeline: "812 (gimli) S (sleeping) in do_sigtimedwait; 4
// threads: 3 S (futex_wait_queue), 1 R; 12 fds; core limit 0, hard
// unlimited; cgroup /system.slice/gimli.service". Strings are as recorded:
// the caller sanitizes for its output.
func (s *ProcessSnapshot) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d (%s) %s", s.PID, s.Comm, StateName(s.State))
	if s.Wchan != "" {
		b.WriteString(" in " + s.Wchan)
	}
	fmt.Fprintf(&b, "; %d thread%s", s.ThreadsTotal, plural(s.ThreadsTotal))
	if ts := s.ThreadSummary(); ts != "" && s.ThreadsTotal > 1 {
		b.WriteString(": " + ts)
	}
	fmt.Fprintf(&b, "; %d fd%s", s.FDsTotal, plural(s.FDsTotal))
	if c := s.CoreLimit(); c != "" {
		b.WriteString("; core limit " + c)
	}
	if s.Cgroup != "" {
		b.WriteString("; cgroup " + s.Cgroup)
	}
	return b.String()
}

// Describe is Line, for whatever describes an event in words without
// knowing its kind (event.Describer: the handoff's evidence rows). A value
// receiver, so a snapshot made live (a T) and one read from a file (a *T)
// both describe themselves.
func (s ProcessSnapshot) Describe() string { return s.Line() }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Bound applies the caps above to a snapshot made by hand or read from
// /proc: it cuts lists and strings, then, should the JSON still be larger
// than MaxSnapshotBytes (strings the JSON encoder must escape grow up to
// sixfold), drops fds and then the threads' stacks from the end until it
// fits. Truncated says whether anything was left out.
func (s *ProcessSnapshot) Bound() {
	cut := func(str string, n int) string {
		if len(str) <= n {
			return str
		}
		s.Truncated = true
		return truncUTF8(str, n)
	}
	s.Comm = cut(s.Comm, MaxSnapString)
	s.Wchan = cut(s.Wchan, MaxSnapString)
	s.Cgroup = cut(s.Cgroup, MaxSnapString)
	s.Finding = cut(s.Finding, MaxSnapString)
	if len(s.Cmdline) > MaxSnapArgs {
		s.Cmdline, s.Truncated = s.Cmdline[:MaxSnapArgs], true
	}
	left := MaxSnapCmdline
	for i, a := range s.Cmdline {
		if len(a) > left {
			s.Cmdline[i], s.Truncated = truncUTF8(a, left), true
			s.Cmdline = s.Cmdline[:i+1]
			break
		}
		left -= len(a)
	}
	if len(s.Parents) > MaxSnapParents {
		s.Parents, s.Truncated = s.Parents[:MaxSnapParents], true
	}
	for i := range s.Parents {
		s.Parents[i].Comm = cut(s.Parents[i].Comm, MaxSnapString)
	}
	if len(s.Threads) > MaxSnapThreads {
		s.Threads, s.Truncated = s.Threads[:MaxSnapThreads], true
	}
	for i := range s.Threads {
		t := &s.Threads[i]
		t.Comm, t.Wchan, t.State = cut(t.Comm, MaxSnapString), cut(t.Wchan, MaxSnapString), cut(t.State, 8)
		if len(t.Stack) > MaxSnapStackLines {
			t.Stack, s.Truncated = t.Stack[:MaxSnapStackLines], true
		}
		for j := range t.Stack {
			t.Stack[j] = cut(t.Stack[j], MaxSnapString)
		}
	}
	if len(s.ThreadStates) > 16 { // the kernel has about ten states
		s.ThreadStates, s.Truncated = nil, true
	}
	if len(s.FDs) > MaxSnapFDs {
		s.FDs, s.Truncated = s.FDs[:MaxSnapFDs], true
	}
	for i := range s.FDs {
		s.FDs[i].Target = cut(s.FDs[i].Target, MaxSnapString)
	}
	if len(s.Limits) > 32 {
		s.Limits, s.Truncated = nil, true
	}
	if len(s.Errors) > MaxSnapErrors {
		s.Errors, s.Truncated = s.Errors[:MaxSnapErrors], true
	}
	for i := range s.Errors {
		s.Errors[i] = cut(s.Errors[i], MaxSnapString)
	}
	s.fit(MaxSnapshotBytes)
}

// fit halves the listed fds, then the threads with a stack (the last
// ones lose it), then the threads, then the arguments, until the JSON is
// at most max bytes.
func (s *ProcessSnapshot) fit(max int) {
	for {
		b, err := json.Marshal(s)
		if err != nil || len(b) <= max {
			return
		}
		s.Truncated = true
		switch {
		case len(s.FDs) > 0:
			s.FDs = s.FDs[:len(s.FDs)/2]
		case s.dropStacks():
		case len(s.Threads) > 0:
			s.Threads = s.Threads[:len(s.Threads)/2]
		case len(s.Cmdline) > 0:
			s.Cmdline = s.Cmdline[:len(s.Cmdline)/2]
		default:
			return // only the fixed fields are left: far under max
		}
	}
}

// dropStacks drops the stacks of the latter half of the threads that
// have one; false when none has.
func (s *ProcessSnapshot) dropStacks() bool {
	var with []int
	for i, t := range s.Threads {
		if len(t.Stack) > 0 {
			with = append(with, i)
		}
	}
	if len(with) == 0 {
		return false
	}
	for _, i := range with[len(with)/2:] {
		s.Threads[i].Stack = nil
	}
	return true
}

// truncUTF8 cuts s to at most n bytes without splitting a character.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// FindingProcess names the process a finding is about, from its data
// (a detector's typed struct live, a map read from a file): its "pid"
// field, else the top writer of a filling filesystem ("writers"[0]).
// ok is false when it names none.
func FindingProcess(f *event.Finding) (ref ProcRef, ok bool) {
	if f == nil || f.Data == nil {
		return ProcRef{}, false
	}
	b, err := json.Marshal(f.Data)
	if err != nil {
		return ProcRef{}, false
	}
	var d struct {
		PID     int       `json:"pid"`
		Comm    string    `json:"comm"`
		Writers []ProcRef `json:"writers"`
	}
	if json.Unmarshal(b, &d) != nil {
		return ProcRef{}, false
	}
	switch {
	case d.PID > 0:
		return ProcRef{PID: d.PID, Comm: d.Comm}, true
	case len(d.Writers) > 0 && d.Writers[0].PID > 0:
		return d.Writers[0], true
	}
	return ProcRef{}, false
}
