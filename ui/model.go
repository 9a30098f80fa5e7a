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
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/themes"
)

// Model is the root model for both live and replay mode.
type Model struct {
	opts Options
	// env.st points at the one Styles every component draws with; it is
	// only replaced when the theme changes.
	env       paneEnv
	keys      rootKeys
	stripKeys stripKeys
	help      help.Model

	strip  findingStrip
	panes  paneSet
	status statusLine
	freeze freezer
	replay *replayCtl   // nil when live
	note   noteInput    // m: a note at the current time
	insp   inspector    // i: the process inspector
	detail *findingView // an opened finding (enter on the strip), or nil
	evGen  int          // evidence requests made, so a late answer is dropped

	w, h     int
	showHelp bool
	helpTop  int    // first line of the help screen shown
	noteErr  string // why the last note was not saved, sanitized
	traceErr string // why the last attach or detach (a, d) failed, sanitized
	procErr  string // why a pane's process was not opened (on another host), sanitized
}

// NewLive builds the UI for a live session; events arrive as EventsMsg.
func NewLive(o Options) Model {
	o = o.withDefaults()
	st := o.Theme.Styles
	env := paneEnv{st: &st, loc: o.Loc}
	h := help.New()
	h.Styles = st.Help
	return Model{
		opts: o, env: env, keys: newRootKeys(false, o.Note != nil), stripKeys: newStripKeys(), help: h, note: newNoteInput(),
		insp:   newInspector(env, o.Inspect != nil, o.Save != nil),
		strip:  newFindingStrip(env),
		panes:  newPaneSet(o.Probes, env.withTrace(o.Trace != nil)).withLocal(o.Host),
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
	// The clock shows the position from the first frame, never the wall
	// clock while the first moment loads.
	m.status = m.status.SetClock(src.Position())
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
		return m, nil
	case noteSavedMsg:
		return m.noteSaved(msg), nil
	case ReplayProgressMsg:
		if m.replay != nil {
			r := m.replay.progress(msg)
			m.replay = &r
		}
		return m, nil
	case ReplayLoadedMsg:
		return m.replayLoaded(msg), nil
	}
	return m.answer(msg)
}

// answer handles what a pane asks of the root and what the commands run
// off the UI goroutine bring back: the inspector's reads and saves, an
// opened finding's evidence, attach and detach.
func (m Model) answer(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case inspectAskMsg:
		return m.inspectRefs(msg.refs)
	case inspectedMsg:
		m.insp = m.insp.Inspected(msg)
		return m, nil
	case snapshotSavedMsg:
		m.insp = m.insp.Saved(msg)
		return m, nil
	case evidenceMsg:
		if m.detail != nil {
			d := m.detail.Evidence(msg)
			m.detail = &d
		}
		return m, nil
	case traceAskMsg:
		if msg.host != "" { // never a local pid's: the process is elsewhere
			m.traceErr = remoteProcess(traceVerb(msg.attach), msg.pid, msg.host, "traced")
			return m, nil
		}
		return m, m.askTrace(msg)
	case traceDoneMsg:
		m.traceErr = ""
		if msg.err != nil {
			what := "detach"
			if msg.attach {
				what = "attach"
			}
			m.traceErr = what + ": " + event.Sanitize(msg.err.Error())
		}
		return m, nil
	}
	return m, nil
}

// key routes a key press to whoever owns it.
func (m Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	m.noteErr, m.traceErr, m.procErr = "", "", ""
	if mm, cmd, ok := m.heldKey(msg); ok {
		return mm, cmd
	}
	switch {
	case key.Matches(msg, m.stripKeys.Focus):
		m = m.focusStrip(!m.strip.Focused())
		return m, nil
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
	case key.Matches(msg, m.keys.Freeze):
		var held []event.Event
		m.freeze, held = m.freeze.Toggle()
		m = m.apply(held)
		m.done(held)
		return m, nil
	case m.replay != nil && m.replay.Handles(msg):
		r, f, cmd := m.replay.Update(msg)
		return m.feed(r, f), cmd
	case m.detail != nil:
		return m, nil // the panes are hidden behind the opened finding
	case key.Matches(msg, m.keys.Group):
		m.panes = m.panes.Regroup(!m.panes.ByHost())
		return m, nil
	}
	if m.strip.Focused() {
		if !m.panes.IsFocusKey(msg) {
			return m, nil
		}
		m = m.focusStrip(false) // tab or 1-9 takes the keys back to the panes
	}
	return m.updatePanes(msg)
}

// heldKey gives msg to whatever holds the keyboard ahead of the root's
// own keys and the replay's: a line being typed (a note, a go-to time, a
// pane's search or filter), the inspector, the help screen, an opened
// finding, the focused findings strip, or the focused pane when it claims
// the key (a timeline's ↑/↓, n/N while it searches, a and d on a selected
// signals row). ok is false when none of them takes it.
func (m Model) heldKey(msg tea.KeyPressMsg) (_ tea.Model, _ tea.Cmd, ok bool) {
	switch {
	case msg.String() == "ctrl+c":
		return m, tea.Quit, true
	case m.note.Active():
		mm, cmd := m.editNote(msg)
		return mm, cmd, true
	case m.replay != nil && m.replay.Editing():
		r, f, cmd := m.replay.Update(msg)
		return m.feed(r, f), cmd, true
	case m.panes.Editing(): // a pane's search or filter line
		mm, cmd := m.updatePanes(msg)
		return mm, cmd, true
	case m.insp.Active():
		mm, cmd := m.inspectKey(msg)
		return mm, cmd, true
	case key.Matches(msg, m.insp.keys.Open):
		m.insp = m.insp.OpenPicker(m.panes.Processes())
		m.showHelp = false
		return m, nil, true
	case m.showHelp && m.scrollsHelp(msg):
		return m.scrollHelp(msg), nil, true
	case m.showHelp && key.Matches(msg, m.keys.Close):
		m.showHelp = false
		return m, nil, true
	case m.detail != nil && m.detail.Handles(msg):
		mm, cmd := m.findingKey(msg)
		return mm, cmd, true
	case m.detail == nil && m.strip.Focused() && key.Matches(msg, m.stripKeys.inStrip()...):
		mm, cmd := m.stripKey(msg)
		return mm, cmd, true
	case m.detail == nil && !m.strip.Focused() && m.panes.Claims(msg):
		mm, cmd := m.updatePanes(msg)
		return mm, cmd, true
	}
	return m, nil, false
}

func (m Model) updatePanes(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	m.panes, cmd = m.panes.Update(msg)
	return m, cmd
}

// focusStrip gives the findings strip the keys, or the panes.
func (m Model) focusStrip(on bool) Model {
	m.strip = m.strip.Focus(on)
	m.panes = m.panes.Blur(on)
	return m
}

// stripKey works the focused strip: select, open, leave.
func (m Model) stripKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.stripKeys.Up):
		m.strip = m.strip.Move(-1)
	case key.Matches(msg, m.stripKeys.Down):
		m.strip = m.strip.Move(1)
	case key.Matches(msg, m.stripKeys.Leave):
		m = m.focusStrip(false)
	case key.Matches(msg, m.stripKeys.Open):
		it := m.strip.Selected()
		if it == nil {
			return m, nil
		}
		m.evGen++
		d, cmd := openFinding(m.env, it, m.evGen, m.opts.Evidence)
		d.hostName = m.strip.hostLabel(it)
		m.detail = d
		return m, cmd
	case key.Matches(msg, m.stripKeys.Jump):
		if it := m.strip.Selected(); it != nil {
			d, _ := openFinding(m.env, it, m.evGen, nil)
			return m.jump(d.host, d.probe, d.at)
		}
	}
	return m, nil
}

// findingKey works the opened finding: scroll, close, or go to its
// moment (live: the view freezes there; replay: it seeks there and
// pauses), its pane focused and every timeline on its row at that moment.
func (m Model) findingKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.detail.keys.Close):
		m.detail = nil
		return m, nil
	case key.Matches(msg, m.detail.keys.Jump):
		return m.jump(m.detail.host, m.detail.probe, m.detail.at)
	}
	d := m.detail.Scroll(msg)
	m.detail = &d
	return m, nil
}

// jump goes to a finding's moment (g): live, the view freezes there;
// in a replay, it seeks there and pauses. The pane of its probe on its
// host gets the focus, and every timeline, on every host, shows that
// moment.
func (m Model) jump(host, probe string, at time.Time) (tea.Model, tea.Cmd) {
	m.detail = nil
	m = m.focusStrip(false)
	var cmd tea.Cmd
	if m.replay != nil {
		r, f, c := m.replay.Jump(at)
		m, cmd = m.feed(r, f), c
	} else if !m.freeze.Frozen() {
		m.freeze, _ = m.freeze.Toggle()
	}
	m.panes = m.panes.ShowAt(m.panes.IndexOn(host, probe), at)
	return m, cmd
}

// apply hands live events to the component each kind belongs to.
func (m Model) apply(evs []event.Event) Model {
	for _, ev := range evs {
		m.status = m.status.Apply(ev)
		switch ev.Kind {
		case event.KindFinding, event.KindNote:
			m.strip = m.strip.Add(ev)
		case event.KindRecording, schema.KindHostFacts, schema.KindClock, schema.KindStreamPong:
			// the status line's (a host's clock offset), no pane's
		case schema.KindProcessSnapshot:
			m.insp = m.insp.Remember(ev)
		default:
			if ev.Probe == schema.ProbeRemote {
				// the --ssh sources' own statuses: each host's probes
				// have panes of their own, and the line says the rest
				continue
			}
			m.panes = m.panes.Apply(ev)
		}
	}
	return m.hostsShown()
}

// hostsShown turns on, once another host has a pane, what shows several
// hosts: the strip names each line's host, and g (G) groups the panes.
func (m Model) hostsShown() Model {
	if m.panes.Named() && !m.keys.Group.Enabled() {
		m.strip = m.strip.NameHosts(m.opts.Host)
		m.keys.Group.SetEnabled(true)
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
		m.insp = m.insp.Forget()
	}
	if f.reset {
		m.status = m.status.ForgetClocks()
	}
	for _, ev := range f.events {
		m.status = m.status.Observe(ev)
		switch {
		case ev.Kind == schema.KindProcessSnapshot:
			m.insp = m.insp.Remember(ev)
		case isHostKind(ev.Kind):
		case !isMark(ev) && ev.Kind != event.KindRecording:
			m.panes = m.panes.Apply(ev)
		}
	}
	if f.moved || f.reset {
		up := r.FindingsUpTo()
		m.strip = m.strip.Set(up)
		m.status = m.status.SetClock(r.src.Position()).SetLost(up)
	}
	return m.hostsShown()
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

// inspectKey routes a key to the open inspector and runs what it asks
// for: a live read of the process, or saving it into the recording.
func (m Model) inspectKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	var act inspectAction
	m.insp, act = m.insp.Update(msg, m.opts.Inspect != nil)
	return m.runInspect(act)
}

// inspectRefs opens the inspector on the processes a pane's selected row
// names (Enter on the row). Live, a row of another host's pane opens
// nothing: one line says why.
func (m Model) inspectRefs(refs []procRef) (tea.Model, tea.Cmd) {
	if len(refs) > 0 && refs[0].host != "" && m.opts.Inspect != nil {
		m.procErr = remoteProcess("process inspector", refs[0].pid, refs[0].host, "opened")
		return m, nil
	}
	var act inspectAction
	m.insp, act = m.insp.OpenRefs(refs, m.opts.Inspect != nil)
	m.showHelp = false
	return m.runInspect(act)
}

// runInspect runs what the inspector asked for.
func (m Model) runInspect(act inspectAction) (tea.Model, tea.Cmd) {
	switch act {
	case inspectRead:
		return m, readProcess(m.opts.Inspect, m.insp.gen, m.insp.pid, m.opts.Now)
	case inspectSave:
		ev := m.insp.SaveEvent()
		save := m.opts.Save
		return m, func() tea.Msg { return snapshotSavedMsg{at: ev.Time, err: save(ev)} }
	}
	return m, nil
}

// now is the live clock (pinned in tests).
func (m Model) now() time.Time { return m.opts.Now() }
