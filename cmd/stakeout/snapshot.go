package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
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
	named, err := lf.selected()
	if err != nil {
		return err
	}
	started := time.Now()
	var rec engine.Recorder
	file := ""
	header := sessions.HostHeader(version, os.Args, lf.cfg.Interval)
	if !lf.noRecord {
		w, err := openRecording(lf.recordPath(out, started), lf, os.Args)
		if err != nil {
			return err
		}
		rec, file = w, w.Path()
	}
	// With --redact the printed report is redacted like the file, by the
	// same redactor, so the two agree on every pseudonym.
	red := lf.redactor()
	if red != nil {
		header = red.Header(header)
		file = red.String(file)
	}

	b := report.NewBuilder()
	for _, n := range named {
		b.Expect(n.Name)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()

	prog := newProgress(os.Stderr, started, duration)
	snaps := newAutoSnapshots(lf.cfg.Procfs)
	eng := engine.New(engine.Options{
		Probes:      named,
		Detectors:   findings.All(lf.detectorConfig()),
		Recorder:    rec,
		RecordGuard: recordGuard(rec),
		OnFinding:   snaps.observe,
		Sink: func(evs []event.Event) {
			for _, ev := range evs {
				if red != nil {
					ev = red.Event(ev)
				}
				b.Observe(ev)
			}
		},
		// The report keeps findings and summaries, never a packet batch:
		// the capture may reuse a batch's memory once this returns.
		SinkKeepsNothing: true,
		OnRecording:      prog.update,
	})
	go snaps.run(ctx, eng.Inject)
	if err := eng.Run(ctx); err != nil {
		return err
	}
	prog.done()

	doc := b.Document(header, file, started, time.Since(started))
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

// progress draws one self-overwriting line on stderr, only when stderr is a
// terminal, so logs and pipes stay clean.
type progress struct {
	f        *os.File
	tty      bool
	started  time.Time
	duration time.Duration
}

func newProgress(f *os.File, started time.Time, d time.Duration) *progress {
	return &progress{f: f, tty: term.IsTerminal(f.Fd()), started: started, duration: d}
}

func (p *progress) update(st engine.RecordingState) {
	if !p.tty {
		return
	}
	el := time.Since(p.started).Round(time.Second)
	rec := "REC off"
	switch st.State {
	case "recording":
		rec = "REC " + event.HumanBytes(st.Bytes)
	case "paused":
		rec = "REC paused: " + st.Reason + " — " + st.Hint
	case "stopped":
		rec = "REC stopped: " + st.Reason
	}
	// The reason and the hint can name a path (the file, where to record
	// instead): only this line's own control sequence reaches the terminal.
	fmt.Fprintf(p.f, "\r\x1b[Ksnapshot %s/%s · %s", el, p.duration, event.Sanitize(rec))
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.f, "\r\x1b[K")
	}
}
