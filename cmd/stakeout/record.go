package main

import (
	"fmt"
	"github.com/stakeout/stakeout/findings"
	"os"
	"path/filepath"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/probes"
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
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot record to %s: %v (use --record FILE elsewhere, or --no-record)", path, unwrapPath(err))
		}
	}
	h := sessions.HostHeader(version, argv, lf.cfg.Interval)
	h.Detectors = findings.ConfigJSON(lf.detectorConfig())
	red := lf.redactor()
	if red != nil {
		h = red.Header(h)
	}
	// The engine flushes once a second; a second flusher in the writer would
	// only double the statfs calls on the watched filesystem.
	opts := sessions.WriterOptions{MaxBytes: max, FlushEvery: -1, PauseHint: pauseHint(lf)}
	if red != nil {
		opts.Own = red.Event // the stop and pause notices name the file
	}
	w, err := sessions.Create(path, h, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot record to %s: %v (use --record FILE elsewhere, or --no-record)", path, unwrapPath(err))
	}
	if red != nil {
		return redactedWriter{w, red}, nil
	}
	return w, nil
}

// pauseHint is the end of the notice when recording pauses for a filling
// filesystem: the flag that records elsewhere.
func pauseHint(lf *liveFlags) string {
	if lf.tui {
		return "record elsewhere with --record /other/fs/file.stk"
	}
	return "record elsewhere with -o /other/fs/file.stk"
}

// recordMounts names the mount points of the filesystem holding the
// recording, so the engine pauses it when the diskfill probe finds that
// filesystem filling. Without mountinfo it is nil and only the writer's own
// free-space floor pauses the recording.
func recordMounts(rec engine.Recorder) []string {
	if rec == nil {
		return nil
	}
	ms, _ := probes.MountPointsOf("/proc", rec.Path())
	return ms
}

// unwrapPath drops the path an *os.PathError repeats, to keep errors one short line.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
