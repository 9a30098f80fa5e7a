package sessions

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
)

// Recording is what every reader of recordings reads: one session file
// (*Reader) or several opened as one multi-host timeline (*Set). The
// commands, the replay's Player, Extract, handoff and report take a
// Recording, so none of them asks whether it reads one file or many.
type Recording interface {
	// Header is the recording's header; a Set's is its first file's (see
	// Set.Header).
	Header() Header
	// Start and End are the earliest and latest event times the index
	// holds; PlausibleSpan and SessionStart as Reader's.
	Start() time.Time
	End() time.Time
	PlausibleSpan() (lo, hi time.Time)
	SessionStart() time.Time
	// Events is Reader.Iter: every event with Time >= from. A Set merges
	// its files by event time.
	Events(from time.Time) Events
	// EventsRange is Reader.IterRange: Events(from) that stops reading
	// where the time index shows no event at or before until is left.
	EventsRange(from, until time.Time) Events
	// RawEvents is Reader.RawIter: events with their records, not decoded.
	RawEvents(from time.Time) Events
	// Files are the session files read, in the order given: each says its
	// own damage (Reader.Damage) once it has been read.
	Files() []*Reader
	Close() error

	// playEvents is Events for a Player, which drops the events before
	// from itself, a step at a time (Player.Seek).
	playEvents(from time.Time) Events
}

// Events delivers a Recording's events: *Iter for one file, a merge of
// one *Iter per file for a Set.
type Events interface {
	// Next returns the next event, or false at the end or on an error.
	Next() (event.Event, bool)
	// Err says why iteration ended early (Iter.Err): a *Damage when the
	// events before it were delivered.
	Err() error
	// Passed is Iter.Passed: every event at or before t has been delivered.
	Passed(t time.Time) bool
	// work is the decoding work done so far (segLimit.work), which bounds
	// a Player's step.
	work() int64
}

var (
	_ Recording = (*Reader)(nil)
	_ Recording = (*Set)(nil)
)

// Events is Iter(from) as a Recording's Events.
func (r *Reader) Events(from time.Time) Events { return r.Iter(from) }

// EventsRange is IterRange(from, until) as a Recording's Events.
func (r *Reader) EventsRange(from, until time.Time) Events { return r.IterRange(from, until) }

// RawEvents is RawIter(from) as a Recording's Events.
func (r *Reader) RawEvents(from time.Time) Events { return r.RawIter(from) }

// Files is r alone.
func (r *Reader) Files() []*Reader { return []*Reader{r} }

func (r *Reader) playEvents(from time.Time) Events {
	it := r.Iter(from)
	// The Iter would read past the events before from inside one Next,
	// a whole segment's worth; the Player drops them itself.
	it.from = time.Time{}
	return it
}

func (it *Iter) work() int64 { return it.lim.work }

// Damaged says what damage the recording's files were found to have so
// far: one file's damage (Damage.Error), or for a Set each damaged file's,
// named by its base name; "" when none.
func Damaged(r Recording) string {
	files := r.Files()
	var parts []string
	for i, f := range files {
		d := f.Damage()
		if d == nil {
			continue
		}
		if len(files) == 1 {
			return d.Error()
		}
		name := f.Header().Hostname
		if s, ok := r.(*Set); ok {
			name = filepath.Base(s.paths[i])
		}
		parts = append(parts, name+": "+d.Error())
	}
	return strings.Join(parts, "; ")
}
