package main

import (
	"os"
	"time"

	"github.com/stakeout/stakeout/redact"
	"github.com/stakeout/stakeout/sessions"
)

// redactor is the one Redactor of a live run or snapshot (nil without
// --redact): the file and the printed report must give an address the
// same pseudonym.
func (f *liveFlags) redactor() *redact.Redactor {
	if !f.redact {
		return nil
	}
	if f.red == nil {
		f.red = redact.New()
		f.red.LearnLocal(f.cfg.Procfs, "/etc/passwd")
	}
	return f.red
}

// recordPath is the session file of a live run; with --redact the default
// name carries the host's pseudonym, not its name.
func (f *liveFlags) recordPath(explicit string, now time.Time) string {
	red := f.redactor()
	if explicit != "" || red == nil {
		return recordPath(explicit, now)
	}
	dir := os.Getenv("STAKEOUT_DIR")
	if dir == "" {
		dir = defaultRecordDir
	}
	host, _ := os.Hostname()
	return sessions.DefaultPath(dir, red.String(host), now)
}

// fileRedactor is the redactor for output made from a recording (handoff,
// extract): it learns the names of this host and of the whole file (every
// file, for several) first, so a user name is replaced even before the
// note that gives it away.
func fileRedactor(r sessions.Recording) *redact.Redactor {
	red := redact.New()
	red.LearnLocal("/proc", "/etc/passwd")
	for _, f := range r.Files() {
		red.LearnHeader(f.Header())
	}
	// Learn reads an event's fields as JSON: the bodies need no decoding.
	it := r.RawEvents(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		red.Learn(ev)
	}
	// Damage ends the learning where it ends the reading; the command
	// itself reports it.
	return red
}
