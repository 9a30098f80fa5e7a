package main

import (
	"context"
	"errors"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/sessions"
	"github.com/stakeout/stakeout/ui"
)

// replayHistory is how much before a seek target panes are refilled with.
const replayHistory = 2 * time.Minute

func newReplayCmd() *cobra.Command {
	var theme, since string
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "replay a recording in the same TUI, with pause, seek and speed",
		Long: `replay shows a recording in the live TUI's panes, with a timeline bar.
Keys: space pause, ←/→ step, [ ] speed 0.25×–64×, g go to a time, Home/End,
n/N next/previous finding or note, m add a note here (appended to FILE),
a acknowledge the critical findings pinned on the strip, ? all keys, q quit.`,
		Example: `  stakeout replay /var/tmp/stakeout/web-3-20261123T040000Z.stk`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !term.IsTerminal(os.Stdout.Fd()) || !term.IsTerminal(os.Stdin.Fd()) {
				return usageErr("stdout is not a terminal: use 'stakeout report FILE' or 'stakeout events FILE' instead")
			}
			th, err := pickTheme(theme)
			if err != nil {
				return err
			}
			r, err := openSession(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			from, _, err := window(r, since, "")
			if err != nil {
				return err
			}
			// The strip is fed from the findings loadReplay recomputes;
			// recorded findings and notes are not replayed twice.
			dropFindings := func(ev event.Event) bool { _, ok := event.AsFinding(ev); return ok || ev.Kind == event.KindNote }
			player := sessions.NewPlayer(r, replayHistory, dropFindings)
			// Open where the session began, not at the kernel log's backlog
			// (which may start hours before), or at --since (the handoff
			// report's replay command says where). The model seeks to this
			// position again at start and shows any read error there, so it
			// is not reported twice.
			start := r.SessionStart()
			if !from.IsZero() {
				start = from
			}
			_, _ = player.Seek(start)
			// m appends a note to the file; the player reads only what was
			// there when it opened, so the UI adds the mark itself.
			saveNote := func(ev event.Event) error { return appendNote(args[0], ev) }
			model := ui.NewReplayLoading(ui.Options{Host: r.Header().Hostname, Theme: th, Note: saveNote}, player)
			prog := tea.NewProgram(model, profileOnce())
			// The findings (the timeline's marks) are recomputed from the
			// whole file while the replay already plays.
			ctx, cancel := context.WithCancel(context.Background())
			loaded := make(chan error, 1)
			go func() { loaded <- loadReplay(ctx, r, prog.Send) }()
			_, err = prog.Run()
			cancel()
			loadErr := <-loaded
			if err != nil {
				return err
			}
			// A damaged file replays up to the damage (the timeline says
			// where); the warning comes once the screen is back.
			if loadErr != nil && !isDamage(loadErr) && !errors.Is(loadErr, context.Canceled) {
				return loadErr
			}
			return readDone(args[0], r, nil)
		},
	}
	cmd.Flags().StringVar(&theme, "theme", "dark", "colour theme: dark, light, high-contrast or mono")
	cmd.Flags().StringVar(&since, "since", "", "start at this time: 04:00:10, 2026-11-23T04:00:10Z, or +30s from the start (default: where the session began)")
	return cmd
}

// loadProgressEvery is how often loadReplay reports how far it has read.
const loadProgressEvery = 200 * time.Millisecond

// loadReplay reads the whole recording through today's detectors, as
// report does, for the replay's findings and notes (the timeline's marks)
// and the probes it holds, and sends them to the UI (ui.ReplayLoadedMsg),
// saying how far it has got every loadProgressEvery. It stops early when
// ctx is done (the replay was quit). A damaged file gives what was read
// before the damage, and the damage as the error.
func loadReplay(ctx context.Context, r *sessions.Reader, send func(tea.Msg)) error {
	var finds []event.Event
	var probeNames []string
	seen := map[string]bool{}
	lo, hi := r.PlausibleSpan()
	var read time.Time
	next := time.Now().Add(loadProgressEvery)
	err := engine.Replay(r.Iter(time.Time{}), findings.All(findings.ConfigOf(r.Header().Detectors)), func(ev event.Event) bool {
		if _, ok := event.AsFinding(ev); ok || ev.Kind == event.KindNote {
			finds = append(finds, ev)
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
	msg := ui.ReplayLoadedMsg{Findings: finds, Probes: probeNames}
	if err != nil && !errors.Is(err, context.Canceled) {
		msg.Err = err
	}
	send(msg)
	return err
}
