package ui

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/sessions"
)

func fixtureNote(s int, text string) event.Event {
	return event.New(at(s), event.ProbeNote, event.NewNote("alice", text))
}

// noteSink records what the UI asks to save.
type noteSink struct {
	mu    sync.Mutex
	saved []event.Event
	err   error
}

func (s *noteSink) save(ev event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.saved = append(s.saved, ev)
	return nil
}

func noteOptions(s *noteSink) Options {
	o := testOptions()
	o.Note, o.Author = s.save, "alice"
	return o
}

func typeText(m Model, text string) Model {
	for _, r := range text {
		m = update(m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return m
}

// run applies msg and, like the program would, feeds back what its command
// returns (saving a note).
func updateRun(m Model, msg tea.Msg) Model {
	next, cmd := m.Update(msg)
	m = next.(Model)
	if cmd != nil {
		if back := cmd(); back != nil {
			m = update(m, back)
		}
	}
	return m
}

// replayWithNotes is the fixture replay with two notes among its findings,
// at 04:00:12.
func replayWithNotes(s *noteSink) (Model, *fakeSource) {
	evs := fixtureSession()
	marks := append(findingsOf(evs), fixtureNote(3, "backup job starts on sdb"), fixtureNote(12, "\x1b]0;owned\a ruled out the RAID card"))
	src := newFakeSource(evs)
	m := NewReplay(noteOptions(s), src, marks)
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24}, replayInitMsg{})
	m = typeText(m, "g04:00:12")
	return update(m, tea.KeyPressMsg{Code: tea.KeyEnter}), src
}

func TestGoldenNoteMarks(t *testing.T) {
	m, _ := replayWithNotes(&noteSink{})
	view := screen(t, m)
	lines := strings.Split(view, "\n")
	timeline := lines[len(lines)-2]
	// The note at 04:00:03 is a ◆; the one at 04:00:12 is under the cursor.
	if strings.Count(timeline, "◆") != 1 || strings.Count(timeline, "▲") != 2 || strings.Index(timeline, "◆") > strings.Index(timeline, "▲") {
		t.Errorf("timeline should show the note at 04:00:03 and both findings, got %q", timeline)
	}
	// The note's text came from a file: its escape sequence is shown, not run.
	if !strings.Contains(view, `NOTE 04:00:12 alice  \x1b]0;owned\x07 ruled out`) {
		t.Errorf("strip lacks the sanitized note:\n%s", view)
	}
	if strings.Contains(m.View().Content, "\x1b]0;owned") {
		t.Error("the raw escape sequence reached the screen")
	}
	golden.RequireEqual(t, view)
}

func TestGoldenNoteInput(t *testing.T) {
	m, _ := replayWithNotes(&noteSink{})
	m = update(m, tea.KeyPressMsg{Code: 'm', Text: "m"})
	m = typeText(m, "sdb queue 42 while the backup runs; not the LB")
	view := screen(t, m)
	if !strings.Contains(view, "note 04:00:12 › ") || !strings.Contains(view, "not the LB▏") {
		t.Errorf("status line is not the note input:\n%s", view)
	}
	golden.RequireEqual(t, view)

	// A long note scrolls: the end being typed stays in sight.
	m = typeText(m, strings.Repeat(" and more", 20)+" THE END")
	last := strings.Split(screen(t, m), "\n")
	if status := last[len(last)-1]; !strings.Contains(status, "THE END▏") || !strings.Contains(status, "…") {
		t.Errorf("long note status line %q", status)
	}
}

func TestNoteInReplaySavesAtThePosition(t *testing.T) {
	sink := &noteSink{}
	m, src := replayWithNotes(sink)
	src.paused = true
	m = update(m, tea.KeyPressMsg{Code: 'm', Text: "m"})
	m = typeText(m, "q and ? are text here")
	m = updateRun(m, tea.KeyPressMsg{Code: tea.KeyEnter})
	if len(sink.saved) != 1 {
		t.Fatalf("saved %d notes", len(sink.saved))
	}
	n, _ := event.As[event.Note](sink.saved[0])
	if !sink.saved[0].Time.Equal(at(12)) || n.Author != "alice" || n.Text != "q and ? are text here" || sink.saved[0].Probe != "note" {
		t.Errorf("saved %+v %+v", sink.saved[0], n)
	}
	if m.note.Active() || m.showHelp {
		t.Error("the input is still open, or ? leaked out of it")
	}
	// The new note is a mark at once: N from the end finds it.
	m = update(m, press("end"))
	m = update(m, tea.KeyPressMsg{Code: 'N', Text: "N"})
	if !src.Position().Equal(at(15)) {
		t.Fatalf("N from the end went to %s", src.Position().Format("15:04:05"))
	}
	var visits []string
	for range 3 {
		m = update(m, tea.KeyPressMsg{Code: 'N', Text: "N"})
		visits = append(visits, src.Position().Format("15:04:05"))
	}
	if got := strings.Join(visits, " "); got != "04:00:12 04:00:08 04:00:03" {
		t.Errorf("N visited %s, want the notes at 12 (two) then the finding at 8 and the note at 3", got)
	}
	if c := strings.Count(screen(t, m), "NOTE"); c != 1 {
		t.Errorf("at 04:00:03 the strip shows %d notes, want 1", c)
	}
}

func TestNoteEscCancelsAndBlankIsNotSaved(t *testing.T) {
	sink := &noteSink{}
	m, _ := replayWithNotes(sink)
	m = update(m, tea.KeyPressMsg{Code: 'm', Text: "m"})
	m = typeText(m, "never mind")
	m = updateRun(m, tea.KeyPressMsg{Code: tea.KeyEscape})
	m = update(m, tea.KeyPressMsg{Code: 'm', Text: "m"})
	m = typeText(m, "   ")
	m = updateRun(m, tea.KeyPressMsg{Code: tea.KeyEnter})
	if len(sink.saved) != 0 || m.note.Active() {
		t.Errorf("saved %d, input open %v", len(sink.saved), m.note.Active())
	}
}

func TestNoteSaveErrorIsShown(t *testing.T) {
	sink := &noteSink{err: errors.New("db-7.stk is being recorded by a running stakeout")}
	m, _ := replayWithNotes(sink)
	m = update(m, tea.KeyPressMsg{Code: 'm', Text: "m"})
	m = typeText(m, "x")
	m = updateRun(m, tea.KeyPressMsg{Code: tea.KeyEnter})
	if s := screen(t, m); !strings.Contains(s, "note not saved: db-7.stk is being") {
		t.Errorf("no error on the status line:\n%s", s)
	}
}

func TestNoteLive(t *testing.T) {
	sink := &noteSink{}
	m := update(NewLive(noteOptions(sink)), tea.WindowSizeMsg{Width: 80, Height: 24}, EventsMsg(fixtureSession()))
	m = update(m, tea.KeyPressMsg{Code: 'm', Text: "m"})
	m = update(m, tea.PasteMsg{Content: "pasted\nacross lines"})
	m = updateRun(m, tea.KeyPressMsg{Code: tea.KeyEnter})
	if len(sink.saved) != 1 {
		t.Fatalf("saved %d notes", len(sink.saved))
	}
	ev := sink.saved[0]
	if n, _ := event.As[event.Note](ev); !ev.Time.Equal(m.now()) || n.Text != "pasted across lines" {
		t.Fatalf("saved %+v %+v", ev, n)
	}
	// The engine records it and sends it back like any event.
	m = update(m, EventsMsg{ev})
	if s := screen(t, m); !strings.Contains(s, "NOTE 04:00:20 alice  pasted across lines") {
		t.Errorf("strip lacks the live note:\n%s", s)
	}
	help := screen(t, update(m, tea.KeyPressMsg{Code: '?', Text: "?"}))
	if !strings.Contains(help, "add a note here") {
		t.Errorf("help lacks m:\n%s", help)
	}
}

// Without a way to save (Options.Note nil), m does nothing.
func TestNoteNeedsASaver(t *testing.T) {
	m := update(NewLive(testOptions()), tea.WindowSizeMsg{Width: 80, Height: 24})
	m = update(m, tea.KeyPressMsg{Code: 'm', Text: "m"})
	if m.note.Active() {
		t.Error("m opened a note that nothing could save")
	}
}

// TestNoteTypedInReplayEndsUpInTheFile drives the real program over a real
// recording: the note typed with m is appended to the file, where a fresh
// reader finds it at the replay's position, and the open replay goes on.
func TestNoteTypedInReplayEndsUpInTheFile(t *testing.T) {
	path := writeSaturatedSession(t)
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var finds []event.Event
	if err := engine.Replay(r.Iter(time.Time{}), findings.All(findings.Config{}), func(ev event.Event) bool {
		if isMark(ev) {
			finds = append(finds, ev)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	player := sessions.NewPlayer(r, 2*time.Minute, func(ev event.Event) bool { return isMark(ev) })
	opts := testOptions()
	opts.Probes, opts.Author = []string{"iostat"}, "alice"
	opts.Note = func(ev event.Event) error { return sessions.AppendEvents(path, ev) }
	tm := teatest.NewTestModel(t, NewReplay(opts, player, finds), teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
	tm.Send(press("space"))
	tm.Type("n")
	tm.Type("m")
	tm.Type("sdb saturated: the backup job")
	tm.Send(press("enter"))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return strings.Contains(ansi.Strip(string(b)), "NOTE")
	}, teatest.WithDuration(5*time.Second))
	tm.Send(press("home"))
	tm.Type("n") // the finding, then the note at the same time
	tm.Type("q")
	tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
	noteAt := player.Position()
	if !noteAt.Equal(finds[0].Time) {
		t.Errorf("replay ended at %s, want %s", noteAt.Format("15:04:05"), finds[0].Time.Format("15:04:05"))
	}

	again, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var notes []event.Event
	it := again.Iter(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		if ev.Kind == event.KindNote {
			notes = append(notes, ev)
		}
	}
	if it.Err() != nil || len(notes) != 1 {
		t.Fatalf("%d notes in the file (%v)", len(notes), it.Err())
	}
	n, _ := event.As[event.Note](notes[0])
	if !notes[0].Time.Equal(finds[0].Time) || n.Text != "sdb saturated: the backup job" || n.Author != "alice" {
		t.Errorf("note in the file: %s %+v", notes[0].Time.Format("15:04:05"), n)
	}
	// The reader the replay had open still reads the whole recording.
	if evs, err := readAllOf(r); err != nil || len(evs) != 31 {
		t.Errorf("the open reader now gives %d events (%v)", len(evs), err)
	}
}

func readAllOf(r *sessions.Reader) ([]event.Event, error) {
	var out []event.Event
	it := r.Iter(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		out = append(out, ev)
	}
	return out, it.Err()
}
