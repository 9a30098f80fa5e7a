package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/handoff"
	"github.com/stakeout/stakeout/sessions"
)

// handoffFlags are the handoff command's flags; runHandoff turns them into
// handoff.Options, whose event and header transforms carry --redact.
type handoffFlags struct {
	out, since, until string
	redact            bool
}

func newHandoffCmd() *cobra.Command {
	var hf handoffFlags
	cmd := &cobra.Command{
		Use:   "handoff FILE [FILE...] [-o OUT.md | OUT.html]",
		Short: "write the handoff report of a recording: findings with evidence, notes, charts",
		Long: `handoff writes the report an on-call engineer hands to the next one: a
one-paragraph summary (what is critical, on what, since when, whether it was
still going on at the end, the notes' gist); host facts and the time range;
findings ranked by severity, each with the events
around it from the recording (the signal rows with their senders, the packets
either side of a gap, the samples of a filling disk); the notes in time
order; each probe's summary with charts (each line on its own scale, from the
session's start); and the command that replays the file, by its absolute
path. Findings are recomputed by today's detectors, as "report" does.

The format comes from -o: OUT.md is Markdown (Unicode sparklines), OUT.html is
one self-contained page (inline CSS and SVG charts, no scripts, nothing
fetched). Without -o, Markdown goes to stdout. OUT must not exist.

Several files are read as one timeline of several hosts (a fleet's
snapshots), and so is a recording made with --ssh or by "merge": the report
then has a table of each host's facts (where its events came from, its
clock offset), names the host of each finding (whose evidence is that
host's events) and summarizes each host's probes apart.`,
		Example: `  stakeout handoff web-3.stk -o handoff.html
  stakeout handoff web-3.stk --since 04:00 --until +20m > handoff.md
  stakeout handoff capture.pcapng -o gap.md
  stakeout handoff r1.stk r2.stk r3.stk -o vrrp.html`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHandoff(cmd.OutOrStdout(), args, hf)
		},
	}
	cmd.Flags().StringVarP(&hf.out, "output", "o", "", "write to OUT.md (Markdown) or OUT.html (one self-contained page); must not exist")
	addWindowFlags(cmd, &hf.since, &hf.until)
	cmd.Flags().BoolVar(&hf.redact, "redact", false, "replace addresses, host and user names and secret-looking values with pseudonyms")
	return cmd
}

// handoffFormat picks the format from the output's extension.
func handoffFormat(out string) (string, error) {
	if out == "" {
		return "md", nil
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".md", ".markdown":
		return "md", nil
	case ".html", ".htm":
		return "html", nil
	}
	return "", usageErr("-o %s: the format comes from the extension: use .md or .html", event.Sanitize(out))
}

func runHandoff(stdout io.Writer, paths []string, hf handoffFlags) error {
	format, err := handoffFormat(hf.out)
	if err != nil {
		return err
	}
	r, err := openRecordings(paths)
	if err != nil {
		return err
	}
	defer r.Close()
	from, to, err := window(r, hf.since, hf.until)
	if err != nil {
		return err
	}
	// The output is created before the work, so an existing file fails at
	// once; it is removed again if the report cannot be written whole.
	var f *os.File
	if hf.out != "" {
		if f, err = os.OpenFile(hf.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fmt.Errorf("-o %s: %v", event.Sanitize(hf.out), unwrapPath(err))
		}
	}
	// The report is read elsewhere, later: its replay command names the
	// files by their absolute paths, so it works from any directory.
	files := make([]string, len(paths))
	for i, p := range paths {
		files[i] = p
		if abs, err := filepath.Abs(p); err == nil {
			files[i] = abs
		}
	}
	opts := handoff.Options{Since: from, Until: to}
	var red interface{ String(string) string }
	if hf.redact {
		rd := fileRedactor(r)
		opts.Transform, opts.Header, red = rd.Event, rd.Header, rd
	}
	for i := range files {
		if red != nil {
			files[i] = red.String(files[i])
		}
	}
	opts.File, opts.Files = files[0], files
	if len(files) > 1 {
		opts.File = strings.Join(files, " ")
	}
	line := stderrProgress(strings.Join(paths, " "), false)
	opts.Progress = line.hook()
	err = writeHandoff(stdout, f, r, opts, format, line)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(hf.out)
			return fmt.Errorf("-o %s: %v", event.Sanitize(hf.out), err)
		}
	}
	if err != nil {
		return err
	}
	// The report says the recording is damaged, and so does stderr, once.
	return readDone(paths, r, nil)
}

// writeHandoff builds the report and writes it; line is the progress
// line opts.Progress draws, erased before anything is written.
func writeHandoff(stdout io.Writer, f *os.File, r sessions.Recording, opts handoff.Options, format string, line *progressLine) error {
	rep, err := handoff.Build(r, opts)
	line.done()
	if err != nil {
		return err
	}
	w := stdout
	if f != nil {
		w = f
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if format == "html" {
		err = handoff.WriteHTML(bw, rep)
	} else {
		err = handoff.WriteMarkdown(bw, rep)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err == nil && f != nil {
		fmt.Fprintf(stdout, "wrote %s: findings %d, notes %d\n", event.Sanitize(f.Name()),
			rep.Critical+rep.Warn+rep.Info, len(rep.Notes)+rep.NotesOmitted)
	}
	return err
}
