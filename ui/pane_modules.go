package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const (
	modKeep  = 32 // load/unload rows kept
	modShown = 4  // rows asked for in the grid
)

type modRow struct {
	at     time.Time
	loaded bool
	text   string // sanitized "name (used by …)"
	nf     bool   // netfilter family
}

// modulesPane lists the modules loaded and unloaded during the session,
// netfilter ones highlighted.
type modulesPane struct {
	paneBase
	atStart int
	rows    []modRow
	loads   int
}

func init() { registerPane("modules", newModulesPane) }

func newModulesPane(env paneEnv) Pane { return modulesPane{paneBase: newPaneBase(env), atStart: -1} }

func (p modulesPane) ContentHeight() int { return 1 + min(len(p.rows), modShown) }

func (p modulesPane) Apply(ev event.Event) Pane {
	var m schema.Module
	loaded := false
	switch b := ev.Body.(type) {
	case *schema.ModuleList:
		p.atStart = b.Count
		return p
	case *schema.ModuleLoad:
		m, loaded = b.Module, true
		p.loads++
	case *schema.ModuleUnload:
		m = b.Module
	default:
		return p
	}
	text := event.Sanitize(m.Module)
	if len(m.UsedBy) > 0 {
		text += " (used by " + event.Sanitize(strings.Join(m.UsedBy, ", ")) + ")"
	}
	p.rows = appendCapped(p.rows, modRow{at: ev.Time, loaded: loaded, text: text, nf: netfilterName(m.Module)}, modKeep)
	return p
}

// netfilterName mirrors the kernel.module_loaded detector's netfilter family.
func netfilterName(n string) bool {
	for _, p := range []string{"nf_", "iptable_", "ip6table_", "nft_", "xt_"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return n == "ip_tables" || n == "ip6_tables" || n == "x_tables" || n == "ebtables" || n == "arp_tables"
}

func (p modulesPane) View() string {
	st := p.env.st
	head := fmt.Sprintf("%d loaded this session", p.loads)
	if p.atStart >= 0 {
		head = fmt.Sprintf("%d modules at start · ", p.atStart) + head
	}
	lines := []string{st.Muted.Render(clip(head, p.w))}
	room := max(p.h-1, 0)
	for _, r := range p.rows[max(0, len(p.rows)-room):] {
		sign, style := "-", st.Muted
		if r.loaded {
			sign, style = "+", st.Text
			if r.nf {
				style = st.Sev(event.Warn)
			}
		}
		stamp := r.at.In(p.env.loc).Format("15:04:05") + " " + sign + " "
		lines = append(lines, st.Muted.Render(stamp)+style.Render(clip(r.text, p.w-len(stamp))))
	}
	return strings.Join(lines, "\n")
}
