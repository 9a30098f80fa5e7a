package findings

import (
	"fmt"
	"strings"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes"
)

// FindingCoreDumpsLost names core.dumps_lost: a crash now would leave no core.
const FindingCoreDumpsLost = "core.dumps_lost"

// CoreDumpsLostData is core.dumps_lost's data. One finding per reason.
type CoreDumpsLostData struct {
	Reason      string `json:"reason"`
	CorePattern string `json:"core_pattern"`
	PIDs        []int  `json:"pids,omitempty"` // processes the reason is about
}

type coreLost struct {
	active map[string]bool // reasons in force at the previous readiness event
}

// NewCoreDumpsLost returns the detector that explains, before a crash, why
// it would leave no core dump. It fires when a reason appears, so a
// setting fixed and broken again fires again.
func NewCoreDumpsLost() Detector { return &coreLost{active: map[string]bool{}} }

func (d *coreLost) Produces() []string { return []string{FindingCoreDumpsLost} }

type coreReason struct {
	sev    event.Severity
	reason string
	pids   []int
}

func (d *coreLost) Observe(ev event.Event) []event.Event {
	r, ok := probes.AsCoreReadiness(ev)
	if !ok {
		return nil
	}
	now := map[string]bool{}
	var out []event.Event
	for _, c := range coreReasons(*r) {
		now[c.reason] = true
		if d.active[c.reason] {
			continue
		}
		out = append(out, event.New(ev.Time, ev.Probe, &event.Finding{
			Finding: FindingCoreDumpsLost, Severity: c.sev,
			Summary: "core dumps would be lost: " + event.Sanitize(c.reason),
			Data:    CoreDumpsLostData{Reason: c.reason, CorePattern: r.CorePattern, PIDs: c.pids},
		}))
	}
	d.active = now
	return out
}

// coreReasons lists, in plain words, why a crash would leave no core.
func coreReasons(r probes.CoreReadiness) []coreReason {
	var out []coreReason
	if r.PipeTarget != "" && r.PipeTargetExists != nil && !*r.PipeTargetExists {
		out = append(out, coreReason{event.Warn,
			fmt.Sprintf("core_pattern pipes to %s, which does not exist on this host", r.PipeTarget), nil})
	}
	if strings.TrimSpace(r.CorePattern) == "" {
		out = append(out, coreReason{event.Warn, "core_pattern is empty", nil})
	}
	if r.ZeroLimit > 0 {
		var names []string
		var pids []int
		for _, p := range r.NoCore {
			names = append(names, fmt.Sprintf("%s (pid %d)", p.Comm, p.PID))
			pids = append(pids, p.PID)
		}
		c := coreReason{sev: event.Warn, pids: pids}
		switch {
		case !r.Watched:
			// Most distributions start everything with a soft limit of 0,
			// so across all processes it is context, not an alarm.
			c.sev = event.Info
			c.reason = fmt.Sprintf("%d of %d processes have a core size limit of 0", r.ZeroLimit, r.Processes)
			if len(names) > 0 {
				c.reason += ", among them " + strings.Join(names[:min(len(names), 5)], ", ")
			}
		case len(names) == 1:
			c.reason = names[0] + " has a core size limit of 0"
		default:
			c.reason = strings.Join(names, ", ") + " have a core size limit of 0"
		}
		// The kernel ignores the limit for a pipe, but these helpers honour it.
		if n := pipeName(r.PipeTarget); n == "apport" || n == "systemd-coredump" {
			c.reason += fmt.Sprintf(" (%s honours it for piped cores)", n)
		}
		out = append(out, c)
	}
	if r.SuidDumpable == 0 {
		out = append(out, coreReason{event.Info,
			"suid_dumpable is 0: processes that changed user (setuid programs, daemons that drop root) never dump core", nil})
	}
	if r.SuidDumpable == 2 && !strings.HasPrefix(r.CorePattern, "/") && !strings.HasPrefix(r.CorePattern, "|") {
		out = append(out, coreReason{event.Info,
			"suid_dumpable is 2 but core_pattern is not an absolute path or a pipe: processes that changed user dump nothing", nil})
	}
	return out
}

func pipeName(target string) string {
	if i := strings.LastIndexByte(target, '/'); i >= 0 {
		return target[i+1:]
	}
	return target
}
