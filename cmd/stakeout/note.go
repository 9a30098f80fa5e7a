package main

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/sessions"
)

func newNoteCmd() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   `note FILE "text" [--at TIME]`,
		Short: "add a note to a recording's timeline",
		Long: `note appends a note event {author, text} to a finished (or killed) recording,
where replay shows it on the timeline and n/N visit it. The file's existing
bytes are never changed. The author is $STAKEOUT_AUTHOR, else your login name.

Without --at the note is placed now if now falls within the recording,
otherwise at the recording's last event. --at takes the same forms as
--since: 04:00:10, 2026-11-23T04:00:10Z, +30s from the start, -5m from the end;
it must fall within the recording.

A file that a running stakeout is still recording is locked: use m in its TUI
instead, or add the note once it stops.`,
		Example: `  stakeout note web-3.stk "SIGHUP twice from puppet at the second mark; ruled out the LB"
  stakeout note web-3.stk "disk full: logrotate stuck" --at 04:12:30
  STAKEOUT_AUTHOR=alice stakeout note web-3.stk "handing over to the day team" --at -0s`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, text := args[0], args[1]
			n := event.NewNote(event.NoteAuthor(), text)
			if n.Text == "" {
				return usageErr("the note is empty")
			}
			if c := utf8.RuneCountInString(text); c > event.MaxNoteRunes {
				return usageErr("the note is %d characters, the limit is %d", c, event.MaxNoteRunes)
			}
			r, err := openSession(path)
			if err != nil {
				return err
			}
			sp := fileSpan(r)
			r.Close()
			when, err := noteTime(at, sp, time.Now())
			if err != nil {
				return err
			}
			if err := appendNote(path, event.New(when, event.ProbeNote, n)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "noted at %s in %s\n", when.UTC().Format("2006-01-02 15:04:05"), event.Sanitize(path))
			// A torn tail found on opening was cut off to append: say so.
			return readDone([]string{path}, r, nil)
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "when: 04:00:10, 2026-11-23T04:00:10Z, +30s from the start or -5m from the end (default now, or the end of the recording)")
	return cmd
}

// noteTime resolves --at, or picks the default: now while the recording
// covers it, else its end (a note written the morning after is about the
// end of the incident, not about a moment nothing was recorded).
func noteTime(at string, sp timeSpan, now time.Time) (time.Time, error) {
	start, end := sp.Start, sp.End
	if at == "" {
		if !now.Before(start) && !now.After(end) {
			return now.UTC(), nil
		}
		return end.UTC(), nil
	}
	t, err := parseTimeArg(at, sp)
	if err != nil {
		return t, usageErr("--at: %v", err)
	}
	if t.Before(start.Truncate(time.Second)) || t.After(end) {
		return t, usageErr("--at %s is outside the recording (%s to %s UTC)", at,
			start.UTC().Format("2006-01-02 15:04:05"), end.UTC().Format("15:04:05"))
	}
	return t.UTC(), nil
}

// appendNote appends ev to the recording at path with errors a person can
// act on.
func appendNote(path string, ev event.Event) error {
	if err := sessions.AppendEvents(path, ev); err != nil {
		return appendErr(path, err)
	}
	return nil
}

func appendErr(path string, err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no such file", path)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s: permission denied", path)
	case errors.Is(err, sessions.ErrNotSession):
		return fmt.Errorf("%s: not a stakeout session file (notes go into .stk recordings)", path)
	case errors.Is(err, sessions.ErrLocked):
		return fmt.Errorf("%s is being recorded by a running stakeout: press m in its TUI, or add the note once it stops", path)
	case errors.Is(err, sessions.ErrDamagedFile):
		return fmt.Errorf("%v; stakeout extract can copy its readable part to a new file", unwrapPath(err))
	}
	return fileErr(path, err)
}
