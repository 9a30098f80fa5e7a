package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
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

// openRecordings opens the recordings at paths: one file as itself, several
// as one multi-host timeline (sessions.Set), each file's own events named
// by its host. A file that cannot be opened (missing, not a session, of
// another format version) is an error naming it, and nothing is read.
func openRecordings(paths []string) (sessions.Recording, error) {
	if len(paths) == 1 {
		r, err := openSession(paths[0])
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	files := make([]sessions.SetFile, 0, len(paths))
	for _, p := range paths {
		r, err := openSession(p)
		if err != nil {
			for _, f := range files {
				f.Reader.Close()
			}
			return nil, err
		}
		files = append(files, sessions.SetFile{Reader: r, Path: p})
	}
	return sessions.NewSet(files), nil
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

// readDone ends a command that read the recordings at paths (r), with err
// from its reading. The damage contract: a damaged file (a cut or corrupt
// tail, a corrupt chunk) is no error while there is something to read; the
// command writes everything it could read, and then says once, in one
// line per damaged file, what was lost, and exits with exitDamaged. Any
// other error is passed on.
func readDone(paths []string, r sessions.Recording, err error) error {
	if err != nil && !isDamage(err) {
		return err
	}
	damaged := false
	for i, f := range r.Files() {
		d := f.Damage()
		if d == nil && err != nil && len(paths) == 1 {
			errors.As(err, &d)
		}
		if d != nil && i < len(paths) {
			fmt.Fprintf(os.Stderr, "stakeout: warning: %s: %s\n", event.Sanitize(paths[i]), event.Sanitize(d.Error()))
			damaged = true
		}
	}
	if !damaged {
		return nil
	}
	return &exitErr{code: exitDamaged}
}

func newEventsCmd() *cobra.Command {
	var probe, kind, since, until string
	var hosts []string
	cmd := &cobra.Command{
		Use:   "events FILE [FILE...]",
		Short: "print a recording's events as JSON Lines, findings included",
		Long: `events prints every event of a recording, one JSON object per line:
{"time": RFC3339Nano, "probe": "iostat", "kind": "...", ...fields}.
Findings are recomputed by today's detectors and appear in time order as
{"kind": "finding", "finding": "io.saturated", "severity": ..., "summary": ..., "data": {...}}.

Several files are read as one timeline of several hosts, merged by time:
each file's own events get "host", its header's hostname (with the file's
name when two share one), and each file's facts come first as a host_facts
event. An event from another host than the recording's (recorded with --ssh,
or merged) has "host" in any case. --host keeps the events of the hosts
named, as "host" shows them; the recording's own host, whose events have no
"host" in a file read alone, is named by its hostname.`,
		Example: `  stakeout events web-3.stk --kind finding | jq -r '[.time,.finding,.summary]|@tsv'
  stakeout events web-3.stk --probe iostat --since 04:00:00 --until +10m
  stakeout events r1.stk r2.stk r3.stk --kind finding --host r2`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := openRecordings(args)
			if err != nil {
				return err
			}
			defer r.Close()
			from, to, err := window(r, since, until)
			if err != nil {
				return err
			}
			only := newHostFilter(hosts, r.Header().Hostname)
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			var werr error
			// Detectors see the file from its start, so findings come out
			// as report has them. Reading stops only where the index shows
			// that nothing of the window is left; a recording is not in
			// time order (the kernel log's backlog comes after the first
			// samples), so each event is picked by its own time.
			it, done := withProgress(iterUntil(r, to), r, strings.Join(args, " "), true)
			defer done()
			err = engine.Replay(it, findings.All(findings.ConfigOf(r.Header().Detectors)), func(ev event.Event) bool {
				if ev.Time.Before(from) || (!to.IsZero() && ev.Time.After(to)) {
					return true
				}
				if (probe != "" && ev.Probe != probe) || (kind != "" && ev.Kind != kind) || !only.keep(ev) {
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
			if err := readDone(args, r, err); err != nil {
				return err
			}
			return only.unmatched()
		},
	}
	cmd.Flags().StringVar(&probe, "probe", "", "only events of this probe, e.g. iostat")
	cmd.Flags().StringVar(&kind, "kind", "", "only events of this kind, e.g. finding or io")
	cmd.Flags().StringArrayVar(&hosts, "host", nil, "only events of this host, as \"host\" names it (the recording's own by its hostname); repeatable")
	addWindowFlags(cmd, &since, &until)
	return cmd
}

// hostFilter is events --host: the hosts to keep, by the name events show
// (Event.Host, the recording's own host's empty one by its hostname).
type hostFilter struct {
	want map[string]bool
	own  string
	seen map[string]bool // the hosts read, for saying which there are
}

func newHostFilter(hosts []string, own string) *hostFilter {
	if len(hosts) == 0 {
		return nil
	}
	f := &hostFilter{want: map[string]bool{}, own: own, seen: map[string]bool{}}
	for _, h := range hosts {
		f.want[h] = true
	}
	return f
}

func (f *hostFilter) keep(ev event.Event) bool {
	if f == nil {
		return true
	}
	h := ev.Host
	if h == "" {
		h = f.own
	}
	if len(f.seen) < 1024 {
		f.seen[h] = true
	}
	return f.want[h]
}

// unmatched is the error for a --host no event had: a typo, most likely.
func (f *hostFilter) unmatched() error {
	if f == nil {
		return nil
	}
	var missing, there []string
	for h := range f.want {
		if !f.seen[h] {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	for h := range f.seen {
		there = append(there, h)
	}
	sort.Strings(missing)
	sort.Strings(there)
	return usageErr("--host %s: no events of that host; the recording's hosts are %s",
		event.Sanitize(strings.Join(missing, ", ")), event.Sanitize(strings.Join(there, ", ")))
}

func addWindowFlags(cmd *cobra.Command, since, until *string) {
	cmd.Flags().StringVar(since, "since", "", "start at this time: 04:00:10, 2026-11-23T04:00:10Z, or +30s from the start")
	cmd.Flags().StringVar(until, "until", "", "stop at this time: as --since, or -5m from the end")
}

// iterUntil reads r from its start for a window that ends at to (zero:
// the end of the recording). Its detectors make findings up to
// engine.FindingLag before the event that completes them, so the events
// are read that much further.
func iterUntil(r sessions.Recording, to time.Time) engine.Iterator {
	if to.IsZero() {
		return r.Events(time.Time{})
	}
	return r.EventsRange(time.Time{}, to.Add(engine.FindingLag))
}

// window resolves --since/--until against the recording.
func window(r sessions.Recording, since, until string) (from, to time.Time, err error) {
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
		Use:   "report FILE [FILE...]",
		Short: "print the findings and per-probe summary of a recording",
		Long: `report reads a recording, recomputes its findings with today's detectors and
prints them with a per-probe summary. --format json prints the same document
as "snapshot --format json".

Several files are read as one timeline of several hosts (as "events" reads
them), and so is one recorded with --ssh or made by "merge": every finding,
probe and summary then names its host, and the JSON gives each finding a
"host" (the recording's own host's is its hostname) and a "hosts" list with
each host's facts and clock offset ("clock_offset_ns", when the session
estimated one). A recording of one host alone has no "host" on its findings.`,
		Example: `  stakeout report web-3.stk
  stakeout report web-3.stk --format md > incident.md
  stakeout report web-3.stk --format json | jq '.findings | length'
  stakeout report r1.stk r2.stk r3.stk --format json | jq '.findings | group_by(.host) | map({host: .[0].host, n: length})'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "md" && format != "json" {
				return usageErr("--format %q: want text, md or json", format)
			}
			r, err := openRecordings(args)
			if err != nil {
				return err
			}
			defer r.Close()
			doc, err := analyzeFile(r, strings.Join(args, " "))
			if err != nil {
				return err
			}
			if err := report.Write(cmd.OutOrStdout(), doc, format); err != nil {
				return err
			}
			return readDone(args, r, nil)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output: text, md or json")
	return cmd
}

// analyzeFile builds the report document of a whole recording; path
// names it (several files' paths, for a Set).
func analyzeFile(r sessions.Recording, path string) (report.Document, error) {
	b := report.NewBuilder()
	h := r.Header()
	it, done := withProgress(r.Events(time.Time{}), r, path, false)
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
	doc.Damage = sessions.Damaged(r)
	return doc, nil
}
