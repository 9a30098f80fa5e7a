// Package ui is stakeout's terminal UI: a findings strip, a grid of probe
// panes and a status line, fed only by events, so a live session and its
// replay look the same. The root Model only routes messages; each component
// does its own work.
package ui

import (
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/themes"
)

// Model is the root model for both live and replay mode.
type Model struct {
	opts Options
	// env.st points at the one Styles every component draws with; it is
	// only replaced when the theme changes.
	env  paneEnv
	keys rootKeys
	help help.Model

	strip  findingStrip
	panes  paneSet
	status statusLine
	freeze freezer
	replay *replayCtl // nil when live
	note   noteInput  // m: a note at the current time

	w, h     int
	showHelp bool
	helpTop  int    // first line of the help screen shown
	noteErr  string // why the last note was not saved, sanitized
}

// NewLive builds the UI for a live session; events arrive as EventsMsg.
func NewLive(o Options) Model {
	o = o.withDefaults()
	st := o.Theme.Styles
	env := paneEnv{st: &st, loc: o.Loc}
	h := help.New()
	h.Styles = st.Help
	return Model{
		opts: o, env: env, keys: newRootKeys(false, o.Note != nil), help: h, note: newNoteInput(),
		strip:  newFindingStrip(env),
		panes:  newPaneSet(o.Probes, env),
		status: newStatusLine(o.Host, env),
	}
}

// NewReplay builds the UI over a recording. findings are precomputed for the
// whole file: they mark the timeline, drive n/N, and the strip shows those
// at or before the position.
func NewReplay(o Options, src ReplaySource, findings []event.Event) Model {
	m := NewLive(o)
	m.keys = newRootKeys(true, m.opts.Note != nil)
	r := newReplayCtl(src, findings, m.opts.TickEvery, m.env)
	m.replay = &r
	return m
}

func (m Model) Init() tea.Cmd {
	if m.replay == nil {
		return nil
	}
	// Init cannot change the model, so the first seek's history is asked
	// for with a message and applied like any later move.
	return func() tea.Msg { return replayInitMsg{} }
}

// replayInitMsg asks the root to load the replay's first moment.
type replayInitMsg struct{}

func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		return m.resize(msg.Width, msg.Height), nil
	case tea.ColorProfileMsg:
		return m.setTheme(themes.ForProfile(m.opts.Theme, msg.Profile)), nil
	case EventsMsg:
		if m.freeze.Frozen() {
			var dropped []event.Event
			m.freeze, dropped = m.freeze.Hold(msg)
			m.done(dropped)
			return m, nil
		}
		m = m.apply(msg)
		m.done(msg)
		return m, nil
	case RecordingMsg:
		m.status = m.status.Record(msg)
		return m, nil
	case replayInitMsg:
		if m.replay == nil {
			return m, nil
		}
		r, f, cmd := m.replay.Init()
		return m.feed(r, f), cmd
	case tickMsg, replayMoreMsg:
		if m.replay == nil {
			return m, nil
		}
		r, f, cmd := m.replay.Update(msg)
		return m.feed(r, f), cmd
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseClickMsg, tea.MouseWheelMsg:
		return m.mouse(msg.(tea.MouseMsg).Mouse()), nil
	case tea.PasteMsg:
		if m.note.Active() {
			return m.editNote(msg)
		}
		if m.panes.Editing() { // a search or a filter expression
			m.panes = m.panes.Paste(msg.Content)
		}
	case noteSavedMsg:
		return m.noteSaved(msg), nil
	}
	return m, nil
}

// key routes a key press to whoever owns it.
func (m Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	m.noteErr = ""
	switch {
	case msg.String() == "ctrl+c":
		return m, tea.Quit
	case m.note.Active():
		return m.editNote(msg)
	case m.replay != nil && m.replay.Editing():
		r, f, cmd := m.replay.Update(msg)
		return m.feed(r, f), cmd
	case m.panes.Editing(): // a pane's search or filter line
		return m.updatePanes(msg)
	case key.Matches(msg, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, m.keys.Note):
		return m.openNote()
	case key.Matches(msg, m.keys.Ack):
		m.strip = m.strip.Acknowledge()
		return m, nil
	case key.Matches(msg, m.keys.Help):
		m.showHelp, m.helpTop = !m.showHelp, 0
		return m, nil
	case m.showHelp && m.scrollsHelp(msg):
		return m.scrollHelp(msg), nil
	case m.showHelp && key.Matches(msg, m.keys.Close):
		m.showHelp = false
		return m, nil
	case key.Matches(msg, m.keys.Freeze):
		var held []event.Event
		m.freeze, held = m.freeze.Toggle()
		m = m.apply(held)
		m.done(held)
		return m, nil
	case m.replay != nil && m.replay.Handles(msg) && !m.panes.Claims(msg):
		r, f, cmd := m.replay.Update(msg)
		return m.feed(r, f), cmd
	}
	return m.updatePanes(msg)
}

func (m Model) updatePanes(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	m.panes, cmd = m.panes.Update(msg)
	return m, cmd
}

// apply hands live events to the component each kind belongs to.
func (m Model) apply(evs []event.Event) Model {
	for _, ev := range evs {
		m.status = m.status.Apply(ev)
		switch ev.Kind {
		case event.KindFinding, event.KindNote:
			m.strip = m.strip.Add(ev)
		case event.KindRecording:
		default:
			m.panes = m.panes.Apply(ev)
		}
	}
	return m
}

// done tells the wiring the UI is finished with evs (see Options.Done).
func (m Model) done(evs []event.Event) {
	for _, ev := range evs {
		m.opts.Done(ev)
	}
}

// feed applies a replay move. Findings come from the precomputed list, so
// the ones inside the stream are skipped rather than shown twice.
func (m Model) feed(r replayCtl, f feed) Model {
	m.replay = &r
	if f.reset {
		m.panes = m.panes.ResetAt(r.src.Position())
	}
	for _, ev := range f.events {
		if !isMark(ev) && ev.Kind != event.KindRecording {
			m.panes = m.panes.Apply(ev)
		}
	}
	if f.moved || f.reset {
		m.strip = m.strip.Set(r.FindingsUpTo())
		m.status = m.status.SetClock(r.src.Position())
	}
	return m
}

func (m Model) setTheme(t themes.Theme) Model {
	if t.Name == m.opts.Theme.Name {
		return m
	}
	m.opts.Theme = t
	*m.env.st = t.Styles // every component holds this pointer
	m.help.Styles = t.Styles.Help
	return m
}

// now is the live clock (pinned in tests).
func (m Model) now() time.Time { return m.opts.Now() }
