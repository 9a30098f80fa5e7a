package wiring

import (
	"path/filepath"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/redact"
	"github.com/stakeout/stakeout/sessions"
)

// Recording says where and how a live run or snapshot records.
type Recording struct {
	Path      string
	MaxBytes  int64           // the writer stops at this size
	Header    sessions.Header // the host's (sessions.HostHeader)
	Detectors findings.Config // kept in the header, so replays find what live found
	Redactor  *redact.Redactor
	// PauseHint ends the notice when recording pauses for a filling
	// filesystem: how to record elsewhere.
	PauseHint string
}

// OpenRecording creates the session file. Its directory is made 0700 if
// missing and, made or not, refused if anyone but us (and root) could
// tamper with it (*sessions.UnsafeDirError). With a Redactor, the header
// and every event are redacted on their way into the file.
func OpenRecording(o Recording) (engine.Recorder, error) {
	if err := sessions.EnsureDir(filepath.Dir(o.Path)); err != nil {
		return nil, err
	}
	h := o.Header
	h.Detectors = findings.ConfigJSON(o.Detectors)
	red := o.Redactor
	if red != nil {
		h = red.Header(h)
	}
	// The engine flushes once a second; a second flusher in the writer would
	// only double the statfs calls on the watched filesystem.
	opts := sessions.WriterOptions{MaxBytes: o.MaxBytes, FlushEvery: -1, PauseHint: o.PauseHint}
	if red != nil {
		opts.Own = red.Event // the stop and pause notices name the file
	}
	w, err := sessions.Create(o.Path, h, opts)
	if err != nil {
		return nil, err
	}
	if red != nil {
		return redactedWriter{w, red}, nil
	}
	return w, nil
}

// redactedWriter is the recorder with --redact: every event goes through
// the redactor before it reaches the file. The live screen and detectors
// still see the real values; only what is written is redacted.
type redactedWriter struct {
	*sessions.Writer
	red *redact.Redactor
}

func (w redactedWriter) Write(ev event.Event) error { return w.Writer.Write(w.red.Event(ev)) }
