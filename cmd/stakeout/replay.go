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
	var theme string
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "replay a recording in the same TUI, with pause, seek and speed",
		Long: `replay shows a recording in the live TUI's panes, with a timeline bar.
Keys: space pause, ←/→ step, [ ] speed 0.25×–64×, g go to a time, Home/End,
n/N next/previous finding, ? all keys, q quit.`,
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
			// Findings are recomputed once, up front, for the timeline marks.
			var finds []event.Event
			var probeNames []string
			seen := map[string]bool{}
			err = engine.Replay(r.Iter(time.Time{}), findings.All(findings.Config{}), func(ev event.Event) bool {
				if _, ok := event.AsFinding(ev); ok {
					finds = append(finds, ev)
				} else if _, ok := ev.Body.(*event.ProbeStatus); ok && !seen[ev.Probe] {
					seen[ev.Probe] = true
					probeNames = append(probeNames, ev.Probe)
				}
				return true
			})
			if err != nil {
				return err
			}
			// The strip is fed from finds; recorded findings are not replayed twice.
			dropFindings := func(ev event.Event) bool { _, ok := event.AsFinding(ev); return ok }
			player := sessions.NewPlayer(r, replayHistory, dropFindings)
			model := ui.NewReplay(ui.Options{Host: r.Header().Hostname, Probes: probeNames, Theme: th}, player, finds)
			_, err = tea.NewProgram(model, profileOnce()).Run()
			return err
		},
	}
	cmd.Flags().StringVar(&theme, "theme", "dark", "colour theme: dark, light, high-contrast or mono")
	return cmd
}
