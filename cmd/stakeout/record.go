package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/internal/wiring"
	"github.com/stakeout/stakeout/sessions"
)

// defaultRecordDir is where sessions go without --record or $STAKEOUT_DIR.
const defaultRecordDir = "/var/tmp/stakeout"

// recordPath picks the session file: an explicit path, else $STAKEOUT_DIR,
// else /var/tmp/stakeout, named HOST-UTCTIME.stk.
func recordPath(explicit string, now time.Time) string {
	if explicit != "" {
		return explicit
	}
	dir := os.Getenv("STAKEOUT_DIR")
	if dir == "" {
		dir = defaultRecordDir
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	return sessions.DefaultPath(dir, host, now)
}

// openRecording creates the session file, or says in one line why it can't
// and what to do instead.
func openRecording(path string, lf *liveFlags, argv []string) (engine.Recorder, error) {
	max, err := parseSize(lf.recordMax)
	if err != nil {
		return nil, usageErr("--record-max: %v", err)
	}
	rec, err := wiring.OpenRecording(wiring.Recording{
		Path: path, MaxBytes: max,
		Header:    sessions.HostHeader(version, argv, lf.cfg.Interval),
		Detectors: lf.detectorConfig(), Redactor: lf.redactor(), PauseHint: pauseHint(lf),
	})
	if err != nil {
		return nil, cannotRecord(path, lf, err)
	}
	return rec, nil
}

// recordFlag is the flag that names the session file: --record on the live
// TUI, -o on snapshot (which has no --record). Every hint names it.
func recordFlag(lf *liveFlags) string {
	if lf.tui {
		return "--record"
	}
	return "-o"
}

// cannotRecord says in one line why path can't be recorded to, and what to
// do instead with this command's flags.
func cannotRecord(path string, lf *liveFlags, err error) error {
	var unsafe *sessions.UnsafeDirError
	if errors.As(err, &unsafe) {
		fix := "" // a directory higher up, like a user's home, is not ours to remove
		if dir, _ := filepath.Abs(filepath.Dir(path)); unsafe.Dir == dir {
			fix = "remove it, or "
		}
		return fmt.Errorf("cannot record to %s: %v; %srecord elsewhere with %s FILE or STAKEOUT_DIR=DIR, or use --no-record",
			path, unsafe, fix, recordFlag(lf))
	}
	return fmt.Errorf("cannot record to %s: %v (use %s FILE elsewhere, or --no-record)", path, unwrapPath(err), recordFlag(lf))
}

// pauseHint is the end of the notice when recording pauses for a filling
// filesystem: the flag that records elsewhere.
func pauseHint(lf *liveFlags) string {
	return "record elsewhere with " + recordFlag(lf) + " /other/fs/file.stk"
}

// unwrapPath drops the path an *os.PathError repeats, to keep errors one short line.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
