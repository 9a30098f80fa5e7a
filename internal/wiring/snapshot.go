package wiring

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/redact"
	"github.com/stakeout/stakeout/report"
	"github.com/stakeout/stakeout/sessions"
)

// SnapshotOptions are a headless run's.
type SnapshotOptions struct {
	Watch
	// Redactor, with --redact, redacts the report as the file is, so the
	// two agree on every pseudonym; nil leaves it as it is.
	Redactor *redact.Redactor
	Header   sessions.Header // the host's, for the report
	Started  time.Time
	Duration time.Duration
	// Progress gets a self-overwriting progress line while it is a
	// terminal (stderr), and nothing otherwise.
	Progress *os.File
}

// Snapshot runs o's probes with no UI for o.Duration, or until SIGINT,
// SIGTERM or SIGHUP, recording as o says, and returns the report of what
// it saw.
func Snapshot(o SnapshotOptions) (report.Document, error) {
	header, file := o.Header, ""
	if o.Recorder != nil {
		file = o.Recorder.Path()
	}
	red := o.Redactor
	if red != nil {
		header = red.Header(header)
		file = red.String(file)
	}
	b := report.NewBuilder()
	for _, n := range o.Probes {
		b.Expect(n.Name)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	prog := newProgress(o.Progress, o.Started, o.Duration)
	sink := func(evs []event.Event) {
		for _, ev := range evs {
			if red != nil {
				ev = red.Event(ev)
			}
			b.Observe(ev)
		}
	}
	// The report keeps findings and summaries, never a packet batch: the
	// capture may reuse a batch's memory once the sink returns.
	if err := o.newEngine(ctx, sink, true, prog.update).Run(ctx); err != nil {
		return report.Document{}, err
	}
	prog.done()
	return b.Document(header, file, o.Started, time.Since(o.Started)), nil
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
	return &progress{f: f, tty: f != nil && term.IsTerminal(f.Fd()), started: started, duration: d}
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
