package main

import (
	"os"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/wiring"
)

func newReplayCmd() *cobra.Command {
	var theme, since string
	cmd := &cobra.Command{
		Use:   "replay FILE [FILE...]",
		Short: "replay a recording in the same TUI, with pause, seek and speed",
		Long: `replay shows a recording in the live TUI's panes, with a timeline bar.
Keys: space pause, ←/→ step, [ ] speed 0.25×–64×, g go to a time, Home/End,
n/N next/previous finding or note, m add a note here (appended to FILE),
a acknowledge the critical findings pinned on the strip, 0 focus the strip
(up/down select, Enter opens a finding: its summary, data and evidence;
g goes to its pane at its moment), ? all keys, q quit.

Several files replay as one timeline of several hosts: recordings made
separately (a fleet's snapshots) are merged by time, each file's events
named by its host (its header's hostname), and pause, seek and speed act on
all of them at once. Their times are the hosts' own clocks: they line up as
well as the hosts' clocks agree (NTP). m then appends the note to the first
file.`,
		Example: `  stakeout replay /var/tmp/stakeout/web-3-20261123T040000Z.stk
  stakeout replay r1.stk r2.stk r3.stk`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !term.IsTerminal(os.Stdout.Fd()) || !term.IsTerminal(os.Stdin.Fd()) {
				return usageErr("stdout is not a terminal: use 'stakeout report FILE' or 'stakeout events FILE' instead")
			}
			th, err := pickTheme(theme)
			if err != nil {
				return err
			}
			r, err := openRecordings(args)
			if err != nil {
				return err
			}
			defer r.Close()
			from, _, err := window(r, since, "")
			if err != nil {
				return err
			}
			// m appends a note to the file.
			saveNote := func(ev event.Event) error { return appendNote(args[0], ev) }
			if err := wiring.Replay(wiring.ReplayOptions{Reader: r, From: from, Theme: th, Note: saveNote,
				Evidence: filesEvidence(args)}); err != nil {
				return err
			}
			return readDone(args, r, nil)
		},
	}
	cmd.Flags().StringVar(&theme, "theme", "dark", "colour theme: dark, light, high-contrast or mono")
	cmd.Flags().StringVar(&since, "since", "", "start at this time: 04:00:10, 2026-11-23T04:00:10Z, or +30s from the start (default: where the session began)")
	return cmd
}
