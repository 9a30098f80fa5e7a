package main

import (
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
a acknowledge the critical findings pinned on the strip, 0 focus the strip
(up/down select, Enter opens a finding: its summary, data and evidence;
g goes to its pane at its moment), ? all keys, q quit.`,
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
			// Findings are recomputed once, up front, for the timeline marks;
			// notes are marks too.
			var finds []event.Event
			var probeNames []string
			seen := map[string]bool{}
			err = engine.Replay(r.Iter(time.Time{}), findings.All(findings.ConfigOf(r.Header().Detectors)), func(ev event.Event) bool {
				if _, ok := event.AsFinding(ev); ok || ev.Kind == event.KindNote {
					finds = append(finds, ev)
				} else if _, ok := ev.Body.(*event.ProbeStatus); ok && !seen[ev.Probe] {
					seen[ev.Probe] = true
					probeNames = append(probeNames, ev.Probe)
				}
				return true
			})
			// A damaged file replays up to the damage (the timeline says
			// where); the warning comes once the screen is back.
			if err != nil && !isDamage(err) {
				return err
			}
			// The strip is fed from finds; recorded findings and notes are
			// not replayed twice.
			dropFindings := func(ev event.Event) bool { _, ok := event.AsFinding(ev); return ok || ev.Kind == event.KindNote }
			player := sessions.NewPlayer(r, replayHistory, dropFindings)
			if !from.IsZero() {
				// Start there (the handoff report's replay command says where).
				// The model seeks to this position again at start and shows
				// any read error there, so it is not reported twice.
				_, _ = player.Seek(from)
			}
			// m appends a note to the file; the player reads only what was
			// there when it opened, so the UI adds the mark itself.
			saveNote := func(ev event.Event) error { return appendNote(args[0], ev) }
			model := ui.NewReplay(ui.Options{Host: r.Header().Hostname, Probes: probeNames, Theme: th, Note: saveNote,
				Evidence: evidenceReader(args[0], false, false)}, player, finds)
			if _, err = tea.NewProgram(model, profileOnce()).Run(); err != nil {
				return err
			}
			return readDone(args[0], r, nil)
		},
	}
	cmd.Flags().StringVar(&theme, "theme", "dark", "colour theme: dark, light, high-contrast or mono")
	cmd.Flags().StringVar(&since, "since", "", "start at this time: 04:00:10, 2026-11-23T04:00:10Z, or +30s from the start")
	return cmd
}
