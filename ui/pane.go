package ui

import (
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/themes"
)

// Pane draws one probe's events. It only sees that probe's data events:
// findings, recording events and probe_status are handled by the pane set
// for every pane alike, so a pane never has to say "unavailable" itself.
// A pane is a value: Apply returns the changed pane.
//
// A pane embeds paneBase, which gives it its environment, its size and its
// help, so a pane file holds only the pane's own work: a constructor that
// registers itself (registerPane), Apply and View, and, when it has them,
// keys (keyedPane), a compact height (compactPane) and settings that
// survive a replay seek (resetPane).
type Pane interface {
	help.KeyMap // the pane's own keys, shown in full help while it has focus
	Apply(ev event.Event) Pane
	// SetSize gives the room inside the pane's border.
	SetSize(w, h int)
	View() string
}

// keyedPane is a pane with keys of its own: it gets key presses while it
// has focus. The keys it lists in its help are the ones it handles.
type keyedPane interface {
	Update(msg tea.KeyPressMsg) (Pane, tea.Cmd)
}

// claimingPane is a pane that wants some keys before the root's own and the
// replay's (n/N while it searches), and every key while it edits a line.
type claimingPane interface {
	Claims(msg tea.KeyPressMsg) bool
	Editing() bool
}

// pastePane is a pane that takes pasted text into the line it edits.
type pastePane interface {
	Paste(text string) Pane
}

// scrollPane is a pane the mouse wheel scrolls, by n rows (negative: back).
type scrollPane interface {
	Scroll(n int) Pane
}

// detailPane is a pane that can show one thing in detail (a packet); the
// pane set zooms it while it does, and gives the grid back after.
type detailPane interface {
	ShowsDetail() bool
}

// resetPane is a pane that keeps settings (a sort order, a metric) when a
// replay seek empties it; other panes are made anew by their factory.
type resetPane interface {
	Reset() Pane
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

// paneSize is the room a pane was last given. The pane's copies share it,
// so the size given when the pane is drawn is the one its keys page by.
type paneSize struct{ w, h int }

// paneBase is embedded in every pane: its environment (p.env), its size
// (p.w, p.h) and its keys' help: its own keys, and the timeline keys when
// it is a timeline (see scroll.go).
type paneBase struct {
	env paneEnv
	*paneSize
	keys     []key.Binding
	timeline bool
}

func newPaneBase(env paneEnv, keys ...key.Binding) paneBase {
	return paneBase{env: env, paneSize: &paneSize{}, keys: keys}
}

// newTimelineBase is the base of a pane that scrolls, searches and
// follows its rows with the timeline keys.
func newTimelineBase(env paneEnv, keys ...key.Binding) paneBase {
	b := newPaneBase(env, keys...)
	b.timeline = true
	return b
}

func (b paneBase) SetSize(w, h int)         { b.w, b.h = w, h }
func (b paneBase) ShortHelp() []key.Binding { return b.keys }
func (b paneBase) FullHelp() [][]key.Binding {
	var out [][]key.Binding
	if len(b.keys) > 0 {
		out = append(out, b.keys)
	}
	if b.timeline {
		out = append(out, timelineKeys.help())
	}
	return out
}

// base gives the help screen a pane's own keys and whether it is a timeline.
func (b paneBase) base() paneBase { return b }

// paneMark is one glyph or style a pane draws with a meaning of its own,
// for the legend on the help screen.
type paneMark struct{ mark, means string }

// markedPane is a pane that draws marks the legend explains.
type markedPane interface {
	Marks() []paneMark
}

// paneFactories maps a probe to the constructor of its pane; each pane file
// adds its own from an init. Any other probe gets the generic pane, so a new
// probe shows up before its pane exists.
var paneFactories = map[string]func(env paneEnv) Pane{}

// registerPane is called from a pane file's init.
func registerPane(probe string, mk func(env paneEnv) Pane) {
	if _, dup := paneFactories[probe]; dup {
		panic("ui: two panes for probe " + probe)
	}
	paneFactories[probe] = mk
}

func newPane(probe string, env paneEnv) Pane {
	if mk, ok := paneFactories[probe]; ok {
		return mk(env)
	}
	return newGenericPane(env)
}

// resetPaneOf empties p for a replay seek: the pane's own Reset if it keeps
// settings, else a new pane from its factory.
func resetPaneOf(probe string, p Pane, env paneEnv) Pane {
	if r, ok := p.(resetPane); ok {
		return r.Reset()
	}
	return newPane(probe, env)
}

// updatePane hands a key to p if it has keys.
func updatePane(p Pane, msg tea.KeyPressMsg) (Pane, tea.Cmd) {
	if k, ok := p.(keyedPane); ok {
		return k.Update(msg)
	}
	return p, nil
}
