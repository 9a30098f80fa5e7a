package findings

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// FindingCoreDumpsLost names core.dumps_lost: a crash now would leave no core.
const FindingCoreDumpsLost = "core.dumps_lost"

// CoreDumpsLostData is core.dumps_lost's data. One condition per kind of
// reason (its key): the counts and names in the reason are figures.
type CoreDumpsLostData struct {
	Reason      string `json:"reason"`
	CorePattern string `json:"core_pattern"`
	PIDs        []int  `json:"pids,omitempty"` // processes the reason is about
}

func init() {
	register(FindingCoreDumpsLost, func(CoreDumpsLostData) Evidence { return Nearest(About{}) })
}

type coreLost struct{ c conds }

// NewCoreDumpsLost returns the detector that explains, before a crash, why
// it would leave no core dump. Each kind of reason is one condition: raised
// when it appears, updated while it lasts (see conds), cleared when a
// readiness event no longer has it, so a setting fixed and broken again is
// raised again.
func NewCoreDumpsLost() Detector { return &coreLost{} }

func (d *coreLost) Produces() []string { return []string{FindingCoreDumpsLost} }

type coreReason struct {
	sev    event.Severity
	reason string
	pids   []int
	id     string // the kind of reason: the condition's key
}

func (d *coreLost) Observe(ev event.Event) []event.Event {
	r, ok := event.As[schema.CoreReadiness](ev)
	if !ok {
		return nil
	}
	now := map[string]bool{}
	var out []event.Event
	for _, c := range coreReasons(*r) {
		key := condKey(FindingCoreDumpsLost, c.id)
		now[key] = true
		f := d.c.hold(ev.Time, &event.Finding{
			Finding: FindingCoreDumpsLost, Severity: c.sev, Key: key,
			Summary: "core dumps would be lost: " + event.Sanitize(c.reason),
			Data:    CoreDumpsLostData{Reason: c.reason, CorePattern: r.CorePattern, PIDs: c.pids},
		}, coreMaterial)
		if f != nil {
			out = append(out, event.New(ev.Time, ev.Probe, f))
		}
	}
	var gone []string
	for key := range d.c.open {
		if !now[key] {
			gone = append(gone, key)
		}
	}
	sort.Strings(gone)
	for _, key := range gone {
		out = append(out, event.New(ev.Time, ev.Probe, d.c.end(ev.Time, key)))
	}
	return out
}

// coreMaterial: core_pattern changed, or, for a reason about watched
// processes (a warning), which processes it names. How many of all the
// host's processes have a limit of 0 drifts as processes come and go; that
// is refreshed, not news.
func coreMaterial(prev, cur *event.Finding) bool {
	p, c := prev.Data.(CoreDumpsLostData), cur.Data.(CoreDumpsLostData)
	if p.CorePattern != c.CorePattern {
		return true
	}
	return cur.Severity >= event.Warn && !slices.Equal(p.PIDs, c.PIDs)
}

// coreReasons lists, in plain words, why a crash would leave no core.
func coreReasons(r schema.CoreReadiness) []coreReason {
	var out []coreReason
	if r.PipeTarget != "" && r.PipeTargetExists != nil && !*r.PipeTargetExists {
		out = append(out, coreReason{event.Warn,
			fmt.Sprintf("core_pattern pipes to %s, which does not exist on this host", r.PipeTarget), nil, "pipe_target"})
	}
	if strings.TrimSpace(r.CorePattern) == "" {
		out = append(out, coreReason{event.Warn, "core_pattern is empty", nil, "empty_pattern"})
	}
	if r.ZeroLimit > 0 {
		var names []string
		var pids []int
		for _, p := range r.NoCore {
			names = append(names, fmt.Sprintf("%s (pid %d)", p.Comm, p.PID))
			pids = append(pids, p.PID)
		}
		c := coreReason{sev: event.Warn, pids: pids, id: "zero_limit"}
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
			"suid_dumpable is 0: processes that changed user (setuid programs, daemons that drop root) never dump core", nil, "suid_dumpable_0"})
	}
	if r.SuidDumpable == 2 && !strings.HasPrefix(r.CorePattern, "/") && !strings.HasPrefix(r.CorePattern, "|") {
		out = append(out, coreReason{event.Info,
			"suid_dumpable is 2 but core_pattern is not an absolute path or a pipe: processes that changed user dump nothing", nil, "suid_dumpable_2"})
	}
	return out
}

func pipeName(target string) string {
	if i := strings.LastIndexByte(target, '/'); i >= 0 {
		return target[i+1:]
	}
	return target
}

func init() { registerDetector(80, func(Config) Detector { return NewCoreDumpsLost() }) }
