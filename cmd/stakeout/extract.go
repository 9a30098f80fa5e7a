package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

func newExtractCmd() *cobra.Command {
	var since, until, out string
	var redactOut bool
	cmd := &cobra.Command{
		Use:   "extract FILE [FILE...] --since T --until T -o OUT.stk",
		Short: "write a time window of a recording as a smaller session file",
		Long: `extract copies a window of a recording into a new session file that replay,
events, report and handoff read like any other. It holds:

  - the window's events, its notes and its recorded findings;
  - the minute before --since in full, so panes and detectors start warm
    (a rate, a fill trend, a saturation already under way);
  - before that, the last state event of each kind (each probe's status,
    the module list, core-dump readiness, the last disk and I/O sample,
    each traced process's trace state, and the flow names the copied
    packets refer to), stamped with the time the history starts: the state
    in force then;
  - the original header, with an "extract" field naming the source file
    and the window.

Findings are recomputed when the extract is read, so report shows the same
findings inside the window as on the original, and may show some in the
minute before it. OUT must not exist. --since and --until take 04:00:10,
2026-11-23T04:00:10Z, +30s from the start or -5m from the end; either
defaults to the recording's start or end.

Events keep their hosts: an extract of a recording of several hosts (made
with --ssh or by "merge") is one too, with each host's state and flow names
(flow ids are per host). Several files are read as one, as "events" reads
them, and the extract holds the window of all of them, each event naming
its host.`,
		Example: `  stakeout extract web-3.stk --since 04:10:00 --until 04:25:00 -o web-3-incident.stk
  stakeout extract web-3.stk --since -15m -o last-15-minutes.stk
  stakeout extract r1.stk r2.stk r3.stk --since 04:10:00 --until 04:12:00 -o vrrp-window.stk`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr("extract needs -o OUT.stk")
			}
			if since == "" && until == "" {
				return usageErr("extract needs a window: --since and/or --until")
			}
			r, err := openRecordings(args)
			if err != nil {
				return err
			}
			defer r.Close()
			from, to, err := extractWindow(r, since, until)
			if err != nil {
				return err
			}
			opt := sessions.ExtractOptions{ToEnd: until == ""}
			if redactOut {
				red := fileRedactor(r)
				opt.Transform, opt.Header = red.Event, red.Header
			}
			line := stderrProgress(strings.Join(args, " "), false)
			opt.Progress = line.hook()
			st, err := sessions.Extract(r, extractSource(args), out, from, to, opt)
			line.done()
			if err != nil {
				return extractErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d events from %s to %s, and %d before it for context; %s\n",
				event.Sanitize(out), st.Window, clock(from), clock(to), st.History, event.HumanBytes(st.Bytes))
			return readDone(args, r, nil)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "session file to write (must not exist)")
	addWindowFlags(cmd, &since, &until)
	cmd.Flags().BoolVar(&redactOut, "redact", false, "replace addresses, host and user names and secret-looking values with pseudonyms")
	return cmd
}

// extractWindow resolves --since and --until for an extract: either
// defaults to the recording's start or end, and the window must overlap
// the recording.
func extractWindow(r sessions.Recording, since, until string) (from, to time.Time, err error) {
	if from, to, err = window(r, since, until); err != nil {
		return from, to, err
	}
	// The recording's plausible span: an event a bad clock dated years off
	// moves neither default (with no --until it is copied all the same:
	// ToEnd).
	sp := fileSpan(r)
	if from.IsZero() {
		from = sp.Start
	}
	if to.IsZero() {
		to = sp.End
	}
	if to.Before(r.Start()) || from.After(r.End()) {
		return from, to, usageErr("the window %s to %s is outside the recording (%s to %s)", clock(from), clock(to), clock(sp.Start), clock(sp.End))
	}
	if !from.Before(to) {
		return from, to, usageErr("--since %s is not before --until %s", clock(from), clock(to))
	}
	return from, to, nil
}

// extractSource is what the extract's header names its source by: the
// file, or the base names of several.
func extractSource(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	bases := make([]string, len(args))
	for i, a := range args {
		bases[i] = filepath.Base(a)
	}
	return strings.Join(bases, " ")
}

func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// extractErr names the output by its flag: -o OUT.
func extractErr(err error) error {
	var oe *sessions.OutputError
	if !errors.As(err, &oe) {
		return err
	}
	if errors.Is(oe.Err, os.ErrExist) {
		return fmt.Errorf("-o %s: file exists", oe.Path)
	}
	return fmt.Errorf("-o %s: %v", oe.Path, oe.Err)
}

func isDamage(err error) bool { return sessions.IsDamage(err) }
