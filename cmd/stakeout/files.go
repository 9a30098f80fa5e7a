package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/report"
	"github.com/stakeout/stakeout/sessions"
)

// openSession opens a recording with errors a person can act on. Damage
// found on opening is not reported here: the command reads what there is
// and says what was lost once, at the end (readDone).
func openSession(path string) (*sessions.Reader, error) {
	if r, ok, err := pcapSession(path); ok {
		return r, err
	}
	r, err := sessions.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%s: no such file", event.Sanitize(path))
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("%s: permission denied", event.Sanitize(path))
		case errors.Is(err, sessions.ErrNotSession):
			return nil, fmt.Errorf("%s: not a stakeout session file", event.Sanitize(path))
		}
		return nil, fileErr(path, err)
	}
	return r, nil
}

// fileErr names path once in an error about it: the reasons sessions gives
// name the file already, and an *os.PathError names it again.
func fileErr(path string, err error) error {
	var ve *sessions.VersionError
	var pe *os.PathError
	switch {
	case errors.As(err, &ve):
		err = ve
	case errors.As(err, &pe):
		err = pe.Err
	default:
		err = errors.New(strings.TrimPrefix(err.Error(), path+": "))
	}
	return fmt.Errorf("%s: %v", event.Sanitize(path), err)
}

// readDone ends a command that read the recording at path, with err from
// its reading. The damage contract: a damaged file (a cut or corrupt tail,
// a corrupt chunk) is no error while there is something to read; the
// command writes everything it could read, and then says once, in one
// line, what was lost, and exits with exitDamaged. Any other error is
// passed on.
func readDone(path string, r *sessions.Reader, err error) error {
	if err != nil && !isDamage(err) {
		return err
	}
	d := r.Damage()
	if d == nil && err != nil {
		errors.As(err, &d)
	}
	if d == nil {
		return nil
	}
	fmt.Fprintf(os.Stderr, "stakeout: warning: %s: %s\n", event.Sanitize(path), event.Sanitize(d.Error()))
	return &exitErr{code: exitDamaged}
}

func newEventsCmd() *cobra.Command {
	var probe, kind, since, until string
	cmd := &cobra.Command{
		Use:   "events FILE",
		Short: "print a recording's events as JSON Lines, findings included",
		Long: `events prints every event of a recording, one JSON object per line:
{"time": RFC3339Nano, "probe": "iostat", "kind": "...", ...fields}.
Findings are recomputed by today's detectors and appear in time order as
{"kind": "finding", "finding": "io.saturated", "severity": ..., "summary": ..., "data": {...}}.`,
		Example: `  stakeout events web-3.stk --kind finding | jq -r '[.time,.finding,.summary]|@tsv'
  stakeout events web-3.stk --probe iostat --since 04:00:00 --until +10m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := openSession(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			from, to, err := window(r, since, until)
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			var werr error
			// Detectors see the file from its start, so findings come out
			// as report has them. Reading stops only where the index shows
			// that nothing of the window is left; a recording is not in
			// time order (the kernel log's backlog comes after the first
			// samples), so each event is picked by its own time.
			it, done := withProgress(iterUntil(r, to), r, args[0], true)
			defer done()
			err = engine.Replay(it, findings.All(findings.ConfigOf(r.Header().Detectors)), func(ev event.Event) bool {
				if ev.Time.Before(from) || (!to.IsZero() && ev.Time.After(to)) {
					return true
				}
				if (probe != "" && ev.Probe != probe) || (kind != "" && ev.Kind != kind) {
					return true
				}
				// A line at a time: C1 and bidi controls, which JSON
				// leaves raw, are escaped for the terminal.
				var line []byte
				if line, werr = json.Marshal(ev); werr == nil {
					_, werr = w.Write(append(event.TerminalSafeJSON(line), '\n'))
				}
				return werr == nil
			})
			if ferr := w.Flush(); werr == nil {
				werr = ferr
			}
			if werr != nil {
				return werr
			}
			return readDone(args[0], r, err)
		},
	}
	cmd.Flags().StringVar(&probe, "probe", "", "only events of this probe, e.g. iostat")
	cmd.Flags().StringVar(&kind, "kind", "", "only events of this kind, e.g. finding or io")
	addWindowFlags(cmd, &since, &until)
	return cmd
}

func addWindowFlags(cmd *cobra.Command, since, until *string) {
	cmd.Flags().StringVar(since, "since", "", "start at this time: 04:00:10, 2026-11-23T04:00:10Z, or +30s from the start")
	cmd.Flags().StringVar(until, "until", "", "stop at this time: as --since, or -5m from the end")
}

// iterUntil reads r from its start for a window that ends at to (zero:
// the end of the recording). Its detectors make findings up to
// engine.FindingLag before the event that completes them, so the events
// are read that much further.
func iterUntil(r *sessions.Reader, to time.Time) engine.Iterator {
	if to.IsZero() {
		return r.Iter(time.Time{})
	}
	return r.IterRange(time.Time{}, to.Add(engine.FindingLag))
}

// window resolves --since/--until against the recording.
func window(r *sessions.Reader, since, until string) (from, to time.Time, err error) {
	sp := fileSpan(r)
	if since != "" {
		if from, err = parseTimeArg(since, sp); err != nil {
			return from, to, usageErr("--since: %v", err)
		}
	}
	if until != "" {
		if to, err = parseTimeArg(until, sp); err != nil {
			return from, to, usageErr("--until: %v", err)
		}
		if !from.IsZero() && to.Before(from) {
			return from, to, usageErr("--until %s is before --since %s", until, since)
		}
	}
	return from, to, nil
}

func newReportCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "report FILE",
		Short: "print the findings and per-probe summary of a recording",
		Long: `report reads a recording, recomputes its findings with today's detectors and
prints them with a per-probe summary. --format json prints the same document
as "snapshot --format json".`,
		Example: `  stakeout report web-3.stk
  stakeout report web-3.stk --format md > incident.md
  stakeout report web-3.stk --format json | jq '.findings | length'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "md" && format != "json" {
				return usageErr("--format %q: want text, md or json", format)
			}
			r, err := openSession(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			doc, err := analyzeFile(r, args[0])
			if err != nil {
				return err
			}
			if err := report.Write(cmd.OutOrStdout(), doc, format); err != nil {
				return err
			}
			return readDone(args[0], r, nil)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output: text, md or json")
	return cmd
}

// analyzeFile builds the report document of a whole recording.
func analyzeFile(r *sessions.Reader, path string) (report.Document, error) {
	b := report.NewBuilder()
	h := r.Header()
	it, done := withProgress(r.Iter(time.Time{}), r, path, false)
	err := engine.Replay(it, findings.All(findings.ConfigOf(r.Header().Detectors)), func(ev event.Event) bool {
		b.Observe(ev)
		return true
	})
	done()
	if err != nil && !isDamage(err) {
		return report.Document{}, err
	}
	// The session's start (a few milliseconds before its first event),
	// unless the header has none or one after the recording or more than a
	// day before it; to the end of its plausible span, so neither a header
	// nor one event dated years off makes an absurd duration.
	sp := fileSpan(r)
	start := h.Started
	if start.IsZero() || start.Before(sp.Start.Add(-24*time.Hour)) || start.After(sp.End) {
		start = sp.Start
	}
	doc := b.Document(h, path, start, sp.End.Sub(start))
	if d := r.Damage(); d != nil {
		doc.Damage = d.Error()
	}
	return doc, nil
}
