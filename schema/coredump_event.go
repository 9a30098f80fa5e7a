package schema

// The coredump probe's event.

import (
	"strings"

	"github.com/stakeout/stakeout/event"
)

// KindCoreReadiness is the coredump probe's state, sent at start and on change.
const KindCoreReadiness = "core_readiness"

// CoreReadiness is what decides whether a crash leaves a core.
type CoreReadiness struct {
	CorePattern string `json:"core_pattern"`
	// PipeTarget is the program a "|/path …" core_pattern runs, and
	// PipeTargetExists whether it is there (in init's root, where the kernel runs it).
	PipeTarget       string `json:"pipe_target,omitempty"`
	PipeTargetExists *bool  `json:"pipe_target_exists,omitempty"`
	CorePipeLimit    int    `json:"core_pipe_limit"`
	SuidDumpable     int    `json:"suid_dumpable"` // 0 no dump after a credential change, 1 dump, 2 root-only dump
	SystemdCoredump  bool   `json:"systemd_coredump"`
	// Watched is true when the processes are those of --pid/--proc, false
	// when every process was read.
	Watched   bool        `json:"watched"`
	Processes int         `json:"processes"`         // processes whose limits were read
	ZeroLimit int         `json:"zero_limit"`        // of those, how many have RLIMIT_CORE 0
	NoCore    []CoreLimit `json:"no_core,omitempty"` // up to 32 of them
	// Limits lists, when Watched, every watched process's limit (up to
	// 32), zero or not, so a crash of one can be judged by it.
	Limits []CoreLimit `json:"limits,omitempty"`
}

func (CoreReadiness) EventKind() string { return KindCoreReadiness }

// CoreLimit is one process's RLIMIT_CORE, in bytes; -1 is unlimited.
type CoreLimit struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
}

func init() { event.Register(KindCoreReadiness, func() event.Body { return &CoreReadiness{} }) }

// PipeTarget returns the program of a "|/path args" core_pattern.
func PipeTarget(pattern string) (string, bool) {
	rest, ok := strings.CutPrefix(pattern, "|")
	if !ok {
		return "", false
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", false
	}
	return f[0], true
}
