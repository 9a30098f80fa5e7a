package event

import (
	"os"
	"os/user"
	"strings"
	"unicode/utf8"
)

// KindNote is a person's note on the timeline: what they saw, thought or
// ruled out. Its probe name is ProbeNote.
const (
	KindNote  = "note"
	ProbeNote = "note"
)

// MaxNoteRunes bounds a note's text; a note is a line or two, not a log.
const MaxNoteRunes = 1000

// Note is what an engineer wrote at a point in the recording.
// JSON: {"author": "alice", "text": "SIGHUP twice from puppet, ruled out the LB"}
type Note struct {
	Author string `json:"author"`
	Text   string `json:"text"`
}

func (Note) EventKind() string { return KindNote }

func init() {
	Register(KindNote, func() Body { return &Note{} }, Traits{Control: true, Occurrence: true})
}

// NewNote builds a note with its text trimmed and bounded to MaxNoteRunes
// (and the author to 64). The text is stored as typed; it is sanitized only
// where it is drawn, like every string from a file.
func NewNote(author, text string) Note {
	return Note{Author: truncRunes(strings.TrimSpace(author), 64), Text: truncRunes(strings.TrimSpace(text), MaxNoteRunes)}
}

// NoteAuthor is who writes notes from this process: $STAKEOUT_AUTHOR, else
// the login name (the current user's, else $USER or $LOGNAME), else "unknown".
func NoteAuthor() string {
	if a := strings.TrimSpace(os.Getenv("STAKEOUT_AUTHOR")); a != "" {
		return a
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "unknown"
}

func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
