package event

import (
	"encoding/json"
	"os/user"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestNoteRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 4, 0, 10, 0, time.UTC)
	e := New(at, ProbeNote, NewNote("alice", "  SIGHUP twice from puppet\n"))
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-23T04:00:10Z","probe":"note","kind":"note","author":"alice","text":"SIGHUP twice from puppet"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	n, ok := As[Note](back)
	if !ok || n.Author != "alice" || n.Text != "SIGHUP twice from puppet" {
		t.Fatalf("decoded %+v", back)
	}
}

func TestNoteTextIsBounded(t *testing.T) {
	n := NewNote("bob", strings.Repeat("é", MaxNoteRunes+50))
	if got := utf8.RuneCountInString(n.Text); got != MaxNoteRunes {
		t.Fatalf("text has %d runes, want %d", got, MaxNoteRunes)
	}
	if !utf8.ValidString(n.Text) {
		t.Fatal("truncation split a rune")
	}
}

func TestNoteAuthor(t *testing.T) {
	t.Setenv("STAKEOUT_AUTHOR", "carol")
	if got := NoteAuthor(); got != "carol" {
		t.Fatalf("with STAKEOUT_AUTHOR: %q", got)
	}
	t.Setenv("STAKEOUT_AUTHOR", "")
	want := ""
	if u, err := user.Current(); err == nil {
		want = u.Username
	}
	if want == "" {
		t.Setenv("USER", "dave")
		want = "dave"
	}
	if got := NoteAuthor(); got != want {
		t.Fatalf("login name: got %q, want %q", got, want)
	}
}
