// Command stakeout is a terminal workbench for the on-call engineer on a
// misbehaving Linux host. This package holds only the CLI: cobra commands,
// flag binding and exit codes. What the live TUI, snapshot and replay run
// is put together in internal/wiring; probes, recording and UI live
// elsewhere.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
)

// Exit codes, a public contract for scripts.
const (
	exitOK       = 0
	exitError    = 1 // runtime error: missing file, no permission, corrupt input
	exitUsage    = 2 // bad flags or arguments; not a terminal for the live TUI
	exitFindings = 3 // --fail-on matched a finding
	exitDamaged  = 4 // the recording is damaged: all that was readable was output, then one warning line
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitErr carries an exit code through cobra.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitErr{exitUsage, fmt.Errorf(format, args...)}
}

func main() {
	stop := startProfile()
	root := newRoot()
	err := root.Execute()
	stop()
	os.Exit(exitCode(err))
}

// exitCode prints err as one line on stderr and picks the exit status.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitError
	var ee *exitErr
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	} else if isCobraUsage(err) {
		code = exitUsage
	}
	// The one line goes through the terminal gate: a path or a value in
	// it may come from anywhere (a file name holding an escape sequence).
	msg := event.Sanitize(strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
	fmt.Fprintln(os.Stderr, "stakeout: "+msg)
	return code
}

// isCobraUsage recognises cobra's own flag and argument errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand", "unknown command", "invalid argument",
		"flag needs an argument", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func newRoot() *cobra.Command {
	lf := defaultLiveFlags()
	root := &cobra.Command{
		Use:   "stakeout",
		Short: "see everything on a misbehaving Linux host at once, and record it",
		Long: `stakeout watches a suspect Linux host from one terminal: each probe in its own
pane, culprits flagged as findings, the whole session recorded to one .stk
file that can be replayed, questioned and handed off later.

Run it as root. With no subcommand it starts the live TUI with every probe
that can run here, recording to $STAKEOUT_DIR or /var/tmp/stakeout/.

Exit codes: 0 done; 1 error (missing file, no permission, not a session
file); 2 bad usage (unknown flag, a --pid, --mount or --iface that is not
there, no terminal for the TUI); 3 snapshot --fail-on matched a finding;
4 done, but the recording is damaged: everything readable was written, and
one warning line says what was lost.`,
		Example: `  sudo stakeout                              # live TUI, all probes, recording on
  sudo stakeout --probes iostat --interval 2s
  sudo stakeout snapshot --duration 60s --format json | jq .findings
  stakeout replay /var/tmp/stakeout/web-3-20261123T040000Z.stk
  stakeout events FILE --kind finding | jq -r .summary
  stakeout report FILE --format md > handoff.md`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLive(cmd, lf)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitErr{exitUsage, err} })
	lf.bind(root.Flags(), true)
	root.AddCommand(newSnapshotCmd(), newReplayCmd(), newEventsCmd(), newReportCmd(), newExportCmd(), newNoteCmd(), newExtractCmd(), newVersionCmd())
	root.AddCommand(newHandoffCmd())
	root.AddCommand(newStreamCmd())
	root.AddCommand(newMergeCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print stakeout's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "stakeout %s\n", version)
		},
	}
}
