package wiring

import (
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/sessions"
	"github.com/stakeout/stakeout/themes"
	"github.com/stakeout/stakeout/ui"
)

// ReplayHistory is how much before a seek target panes are refilled with.
const ReplayHistory = 2 * time.Minute

// ReplayOptions are a replay's.
type ReplayOptions struct {
	Reader *sessions.Reader
	From   time.Time // where to start; zero: the recording's start
	Theme  themes.Theme
	// Note saves a note typed with m (appended to the file). The player
	// reads only what was there when it opened, so the UI adds the mark
	// itself.
	Note func(event.Event) error
	// Evidence reads an opened finding's evidence from the recording.
	Evidence func(first, last event.Event) (ui.Evidence, error)
}

// Replay shows o.Reader's recording in the live TUI's panes with a
// timeline, until the user quits. A damaged file replays up to the damage
// (the timeline says where): that is no error here, and the caller says
// what was lost once the screen is back (o.Reader.Damage).
func Replay(o ReplayOptions) error {
	r := o.Reader
	marks, probeNames, err := replayMarks(r)
	if err != nil && !sessions.IsDamage(err) {
		return err
	}
	// The strip is fed from marks; recorded findings and notes are not
	// replayed twice.
	player := sessions.NewPlayer(r, ReplayHistory, isMark)
	if !o.From.IsZero() {
		// Start there (the handoff report's replay command says where).
		// The model seeks to this position again at start and shows any
		// read error there, so it is not reported twice.
		_, _ = player.Seek(o.From)
	}
	model := ui.NewReplay(ui.Options{Host: r.Header().Hostname, Probes: probeNames, Theme: o.Theme, Note: o.Note,
		Evidence: o.Evidence}, player, marks)
	_, err = tea.NewProgram(model, profileOnce()).Run()
	return err
}

// replayMarks reads the whole recording once, up front: the findings,
// recomputed, and the notes are the timeline's marks; the probes are
// those that reported a status, in the order they first did.
func replayMarks(r *sessions.Reader) (marks []event.Event, probeNames []string, err error) {
	seen := map[string]bool{}
	err = engine.Replay(r.Iter(time.Time{}), findings.All(findings.ConfigOf(r.Header().Detectors)), func(ev event.Event) bool {
		if isMark(ev) {
			marks = append(marks, ev)
		} else if _, ok := ev.Body.(*event.ProbeStatus); ok && !seen[ev.Probe] {
			seen[ev.Probe] = true
			probeNames = append(probeNames, ev.Probe)
		}
		return true
	})
	return marks, probeNames, err
}

// isMark: a finding or a note, which the timeline marks.
func isMark(ev event.Event) bool {
	_, ok := event.AsFinding(ev)
	return ok || ev.Kind == event.KindNote
}
