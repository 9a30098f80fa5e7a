package ui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
)

// noteInput is the one-line editor m opens to write a note at the current
// time: the go-to line's editor with room for a note (1000 characters),
// pasting included, and a view that scrolls to keep the end in sight.
type noteInput struct {
	line gotoInput
	at   time.Time // the moment the note is about, fixed when m was pressed
	keys noteKeys
}

type noteKeys struct{ Submit, Cancel key.Binding }

func newNoteInput() noteInput {
	line := newGotoInput()
	line.limit = event.MaxNoteRunes
	return noteInput{line: line, keys: noteKeys{
		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "save note")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}}
}

func (n noteInput) Active() bool { return n.line.Active() }

// Open starts a note about the moment at.
func (n noteInput) Open(at time.Time) noteInput {
	n.line, n.at = n.line.Open(), at
	return n
}

// Update edits the note. done is true when it was saved (text is the note,
// "" for a blank line) or cancelled.
func (n noteInput) Update(msg tea.Msg) (_ noteInput, text string, done bool) {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		n.line = n.line.Insert(msg.Content)
	case tea.KeyPressMsg:
		if key.Matches(msg, n.keys.Cancel) {
			n.line = n.line.Close()
			return n, "", true
		}
		var submit bool
		if n.line, submit = n.line.Update(msg); submit {
			text = strings.TrimSpace(n.line.value)
			n.line = n.line.Close()
			return n, text, true
		}
	}
	return n, "", false
}

// View is the status line while a note is being written: the time it is
// about, the end of the text being typed, and how to save or leave.
func (n noteInput) View(env paneEnv, w int) string {
	st := env.st
	prompt := st.Prompt.Render("note "+n.at.In(env.loc).Format("15:04:05")+" ›") + " "
	hint := st.Muted.Render("  enter save · esc cancel")
	text := event.Sanitize(n.line.value)
	if n.line.value == "" {
		hint = st.Muted.Render("  what you saw, think or ruled out · enter save · esc cancel")
	}
	room := w - ansi.StringWidth(prompt) - ansi.StringWidth(hint) - 1
	if room < 10 {
		hint, room = "", w-ansi.StringWidth(prompt)-1
	}
	if tw := ansi.StringWidth(text); tw > room && room > 1 {
		text = "…" + ansi.TruncateLeft(text, tw-room+1, "")
	}
	return clip(prompt+st.Text.Render(text)+st.BarCursor.Render("▏")+hint, w)
}

// noteSavedMsg reports how saving a note went.
type noteSavedMsg struct {
	ev  event.Event
	err error
}

// saveNote runs Options.Note off the UI goroutine: appending to a file or
// handing the note to the engine may wait on a disk.
func saveNote(save func(event.Event) error, ev event.Event) tea.Cmd {
	return func() tea.Msg { return noteSavedMsg{ev: ev, err: save(ev)} }
}

// isMark says whether ev belongs on the findings strip and the timeline
// rather than in a pane: a finding or a note.
func isMark(ev event.Event) bool { return ev.Kind == event.KindFinding || ev.Kind == event.KindNote }

// openNote starts a note about now (live) or the replay's position.
func (m Model) openNote() (tea.Model, tea.Cmd) {
	at := m.now()
	if m.replay != nil {
		at = m.replay.src.Position()
	}
	m.note = m.note.Open(at)
	m.noteErr = ""
	return m, nil
}

func (m Model) editNote(msg tea.Msg) (tea.Model, tea.Cmd) {
	at := m.note.at
	n, text, done := m.note.Update(msg)
	m.note = n
	if !done || text == "" {
		return m, nil
	}
	ev := event.New(at.UTC(), event.ProbeNote, event.NewNote(m.opts.Author, text))
	return m, saveNote(m.opts.Note, ev)
}

// noteSaved puts a saved replay note on the timeline and the strip at
// once (its bytes are past the end the player reads). A live note comes
// back from the engine like any event.
func (m Model) noteSaved(msg noteSavedMsg) Model {
	if msg.err != nil {
		m.noteErr = "note not saved: " + event.Sanitize(msg.err.Error())
		return m
	}
	if m.replay != nil {
		r := m.replay.AddMark(msg.ev)
		m.replay = &r
		m.strip = m.strip.Set(r.FindingsUpTo())
	}
	return m
}
