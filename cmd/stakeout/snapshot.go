package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/wiring"
	"github.com/stakeout/stakeout/report"
	"github.com/stakeout/stakeout/sessions"
)

func newSnapshotCmd() *cobra.Command {
	lf := defaultLiveFlags()
	var (
		duration time.Duration
		format   string
		out      string
		failOn   string
	)
	cmd := &cobra.Command{
		Use:   "snapshot --duration D",
		Short: "run headless for a while, record, then print findings and a summary",
		Long: `snapshot runs every selected probe with no terminal UI for --duration, records
the session file, then prints the findings and a per-probe summary. Use it
from cron, over ssh without a tty, or in a runbook. Ctrl-C ends it early and
still prints the report.

Exit status: 0 done; 1 error; 2 bad usage; 3 a finding at or above --fail-on.`,
		Example: `  stakeout snapshot --duration 60s
  stakeout snapshot --duration 5m --format json -o /tmp/db1.stk | jq '.findings[].summary'
  stakeout snapshot --duration 30s --fail-on critical || page-someone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needLinux("snapshot"); err != nil {
				return err
			}
			return runSnapshot(cmd, lf, duration, format, out, failOn)
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&duration, "duration", 0, "how long to watch, e.g. 30s or 5m (required)")
	fs.StringVar(&format, "format", "text", "output: text or json")
	fs.StringVarP(&out, "output", "o", "", "session file to write (default: $STAKEOUT_DIR or /var/tmp/stakeout/HOST-UTCTIME.stk)")
	fs.StringVar(&failOn, "fail-on", "", "exit 3 if a finding of this severity or worse exists: warn or critical")
	lf.bind(fs, false)
	return cmd
}

func runSnapshot(cmd *cobra.Command, lf *liveFlags, duration time.Duration, format, out, failOn string) error {
	if duration <= 0 {
		return usageErr("snapshot needs --duration, e.g. --duration 30s")
	}
	if format != "text" && format != "json" {
		return usageErr("--format %q: want text or json", format)
	}
	var failSev event.Severity
	if failOn != "" {
		s, err := event.ParseSeverity(failOn)
		if err != nil || s == event.Info {
			return usageErr("--fail-on %q: want warn or critical", failOn)
		}
		failSev = s
	}
	named, err := lf.sources()
	if err != nil {
		return err
	}
	started := time.Now()
	header := sessions.HostHeader(version, os.Args, lf.cfg.Interval)
	var rec engine.Recorder
	if !lf.noRecord {
		if rec, err = openRecording(lf.recordPath(out, started), lf, os.Args); err != nil {
			wiring.CloseUnrun(named)
			return err
		}
	}
	doc, err := wiring.Snapshot(wiring.SnapshotOptions{
		Watch:    lf.watch(named, rec),
		Redactor: lf.redactor(),
		Header:   header,
		Started:  started, Duration: duration, Progress: os.Stderr,
	})
	if err != nil {
		return err
	}
	if err := report.Write(cmd.OutOrStdout(), doc, format); err != nil {
		return err
	}
	if failOn != "" {
		if worst, any := doc.Worst(); any && worst >= failSev {
			return &exitErr{code: exitFindings}
		}
	}
	return nil
}
