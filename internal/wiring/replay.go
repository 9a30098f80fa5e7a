package wiring

import (
	"context"
	"errors"
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
	// Reader is the recording: one file, or several read as one
	// (sessions.Set), whose events name their hosts.
	Reader sessions.Recording
	// From is where to start; zero: where the session began
	// (Reader.SessionStart), not at the kernel log's backlog, which may
	// start hours before.
	From  time.Time
	Theme themes.Theme
	// Note saves a note typed with m (appended to the file). The player
	// reads only what was there when it opened, so the UI adds the mark
	// itself.
	Note func(event.Event) error
	// Evidence reads an opened finding's evidence from the recording.
	Evidence func(first, last event.Event) (ui.Evidence, error)
}

// Replay shows o.Reader's recording in the live TUI's panes with a
// timeline, until the user quits. It plays at once; the findings (the
// timeline's marks) are recomputed from the whole file on a goroutine
// meanwhile (loadReplay), and a loading line says how far it has got. A
// damaged file replays up to the damage (the timeline says where): that is
// no error here, and the caller says what was lost once the screen is back
// (each of o.Reader.Files' Damage).
func Replay(o ReplayOptions) error {
	r := o.Reader
	// The strip is fed from the marks loadReplay recomputes; recorded
	// findings and notes are not replayed twice.
	player := sessions.NewPlayer(r, ReplayHistory, isMark)
	// The handoff report's replay command says where to start (From). The
	// model seeks to this position again at start and shows any read
	// error there, so it is not reported twice.
	start := r.SessionStart()
	if !o.From.IsZero() {
		start = o.From
	}
	_, _ = player.Seek(start)
	model := ui.NewReplayLoading(ui.Options{Host: r.Header().Hostname, Theme: o.Theme, Note: o.Note,
		Evidence: o.Evidence}, player)
	prog := tea.NewProgram(model, profileOnce())
	ctx, cancel := context.WithCancel(context.Background())
	loaded := make(chan error, 1)
	go func() { loaded <- loadReplay(ctx, r, prog.Send) }()
	_, err := prog.Run()
	cancel()
	loadErr := <-loaded
	if err != nil {
		return err
	}
	if loadErr != nil && !sessions.IsDamage(loadErr) && !errors.Is(loadErr, context.Canceled) {
		return loadErr
	}
	return nil
}

// loadProgressEvery is how often loadReplay reports how far it has read.
const loadProgressEvery = 200 * time.Millisecond

// loadReplay reads the whole recording through today's detectors, as
// report does, for the replay's findings and notes (the timeline's marks)
// and the probes that reported a status (in the order they first did), and
// sends them to the UI (ui.ReplayLoadedMsg), saying how far it has got
// every loadProgressEvery. It stops early when ctx is done (the replay was
// quit). A damaged file gives what was read before the damage, and the
// damage as the error.
func loadReplay(ctx context.Context, r sessions.Recording, send func(tea.Msg)) error {
	var marks []event.Event
	var probeNames []string
	seen := map[string]bool{}
	lo, hi := r.PlausibleSpan()
	var read time.Time
	next := time.Now().Add(loadProgressEvery)
	err := engine.Replay(r.Events(time.Time{}), findings.All(findings.ConfigOf(r.Header().Detectors)), func(ev event.Event) bool {
		if isMark(ev) {
			marks = append(marks, ev)
		} else if _, ok := ev.Body.(*event.ProbeStatus); ok && !seen[ev.Probe] {
			seen[ev.Probe] = true
			probeNames = append(probeNames, ev.Probe)
		}
		if ev.Time.After(read) && !ev.Time.After(hi) {
			read = ev.Time
		}
		if now := time.Now(); now.After(next) {
			next = now.Add(loadProgressEvery)
			if span := hi.Sub(lo); span > 0 && !read.Before(lo) {
				send(ui.ReplayProgressMsg{Done: float64(read.Sub(lo)) / float64(span)})
			}
		}
		return ctx.Err() == nil
	})
	if err == nil {
		err = ctx.Err()
	}
	msg := ui.ReplayLoadedMsg{Findings: marks, Probes: probeNames}
	if err != nil && !errors.Is(err, context.Canceled) {
		msg.Err = err
	}
	send(msg)
	return err
}

// isMark: a finding or a note, which the timeline marks.
func isMark(ev event.Event) bool {
	_, ok := event.As[event.Finding](ev)
	return ok || ev.Kind == event.KindNote
}
