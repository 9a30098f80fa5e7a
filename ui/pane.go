package ui

import (
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/themes"
)

// Pane draws one probe's events. It only sees that probe's data events:
// findings, recording events and probe_status are handled by the pane set
// for every pane alike, so a pane never has to say "unavailable" itself.
// A pane is a value: each method returns the changed pane.
type Pane interface {
	help.KeyMap // the pane's own keys, shown in full help while it has focus
	Apply(ev event.Event) Pane
	// Reset forgets all data, before a replay seek re-feeds history.
	Reset() Pane
	// SetSize gives the room inside the pane's border.
	SetSize(w, h int) Pane
	// Update gets key presses while the pane has focus.
	Update(msg tea.KeyPressMsg) (Pane, tea.Cmd)
	View() string
}

// compactPane is a pane that needs only a few lines; it reports its height
// (content lines, without border) so the grid gives the rest to others.
type compactPane interface {
	ContentHeight() int
}

// paneEnv is what every pane is built with.
type paneEnv struct {
	st    *themes.Styles
	loc   *time.Location
	trace bool // a and d in the signals pane can attach and detach (Options.Trace)
}

// paneFactories lists the probes that have a pane of their own. Any other
// probe gets the generic pane, so a new probe shows up before its pane exists.
var paneFactories = map[string]func(env paneEnv) Pane{
	"iostat":  newIOStatPane,
	"signals": newSignalsPane,
	"packets": newPacketsPane,

	// Space, fill rate and writers per filesystem.
	"diskfill": newDiskFillPane,

	// The kernel log, conntrack table, modules and core-dump readiness.
	"kmsg":      newKmsgPane,
	"conntrack": newConntrackPane,
	"modules":   newModulesPane,
	"coredump":  newCoredumpPane,
}

func newPane(probe string, env paneEnv) Pane {
	if mk, ok := paneFactories[probe]; ok {
		return mk(env)
	}
	return newGenericPane(env)
}
