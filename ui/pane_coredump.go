package ui

import (
	"fmt"
	"strings"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// coredumpPane is one or two lines: where a core would go, and who would
// leave none.
type coredumpPane struct {
	paneBase
	last *schema.CoreReadiness
}

func init() { registerPane("coredump", newCoredumpPane) }

func newCoredumpPane(env paneEnv) Pane { return coredumpPane{paneBase: newPaneBase(env)} }

func (p coredumpPane) ContentHeight() int { return 2 }

func (p coredumpPane) Apply(ev event.Event) Pane {
	if r, ok := event.As[schema.CoreReadiness](ev); ok {
		c := *r
		p.last = &c
	}
	return p
}

func (p coredumpPane) View() string {
	st := p.env.st
	r := p.last
	if r == nil {
		return st.Muted.Render("waiting for the first check…")
	}
	var first string
	switch target := event.Sanitize(r.PipeTarget); {
	case r.PipeTargetExists != nil && !*r.PipeTargetExists:
		first = st.Sev(event.Warn).Render(clip("cores lost: core_pattern pipes to "+target+", missing here", p.w))
	case r.PipeTarget != "":
		first = clip("cores piped to "+target, p.w)
	case strings.HasPrefix(r.CorePattern, "/"):
		first = clip("cores written to "+event.Sanitize(r.CorePattern), p.w)
	default:
		first = clip("cores written as "+event.Sanitize(r.CorePattern)+" in the crashing process's directory", p.w)
	}
	var parts []string
	if r.ZeroLimit > 0 {
		var names []string
		for _, c := range r.NoCore[:min(len(r.NoCore), 3)] {
			names = append(names, fmt.Sprintf("%s(%d)", event.Sanitize(c.Comm), c.PID))
		}
		s := fmt.Sprintf("core limit 0: %d/%d", r.ZeroLimit, r.Processes)
		if r.Watched {
			s = "core limit 0: " + strings.Join(names, " ")
		}
		parts = append(parts, st.Sev(event.Warn).Render(s))
	} else if r.Processes > 0 {
		parts = append(parts, fmt.Sprintf("core limit ok for %d", r.Processes))
	}
	cd := "no systemd-coredump"
	if r.SystemdCoredump {
		cd = "systemd-coredump"
	}
	parts = append(parts, st.Muted.Render(fmt.Sprintf("suid_dumpable %d · pipe limit %d · %s", r.SuidDumpable, r.CorePipeLimit, cd)))
	return first + "\n" + clip(strings.Join(parts, st.Muted.Render(" · ")), p.w)
}
