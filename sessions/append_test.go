package sessions

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

func noteAt(t time.Time, text string) event.Event {
	return event.New(t, event.ProbeNote, event.NewNote("alice", text))
}

// appendNotes appends evs to path with a fresh Writer and closes it.
func appendNotes(t *testing.T, path string, evs ...event.Event) {
	t.Helper()
	w, err := Append(path, manual())
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// inTimeOrder is how a reader delivers a time-ordered recording plus
// appended events: everything by time, the recording first on a tie.
func inTimeOrder(recorded []event.Event, appended ...event.Event) []event.Event {
	all := append(append([]event.Event(nil), recorded...), appended...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	return all
}

// sameEvents checks got against want event by event, in order.
func sameEvents(t *testing.T, got, want []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	samePrefix(t, got, want)
}

// readBoth reads the file through its index and, with the last index and
// trailer cut off as a crash would leave it, through the chunk walk; both
// must deliver want with no damage.
func readBoth(t *testing.T, path string, want []event.Event) {
	t.Helper()
	b := mustRead(t, path)
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.dataEnd != int64(len(b))-2*chunkHeaderSize-4-indexEntrySize*int64(len(r.segs))-trailerPayload {
		t.Fatalf("the reader did not take the last index (data ends at %d of %d)", r.dataEnd, len(b))
	}
	got, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatalf("index path: %v", err)
	}
	sameEvents(t, got, want)

	walked, err := openBytes(b[:r.dataEnd])
	if err != nil {
		t.Fatal(err)
	}
	if walked.Damage() != nil {
		t.Fatalf("walk path: damage %v", walked.Damage())
	}
	if !reflect.DeepEqual(walked.segs, r.segs) {
		t.Fatalf("walk found segments\n%v\nthe index lists\n%v", walked.segs, r.segs)
	}
	got, err = readAll(t, walked, time.Time{})
	if err != nil {
		t.Fatalf("walk path: %v", err)
	}
	sameEvents(t, got, want)
	if !r.Start().Equal(walked.Start()) || !r.End().Equal(walked.End()) {
		t.Fatalf("span %v–%v by index, %v–%v by walk", r.Start(), r.End(), walked.Start(), walked.End())
	}
}

func TestAppendToClosedFile(t *testing.T) {
	path, evs := writeSession(t, t.TempDir(), 70) // two segments
	before := mustRead(t, path)
	notes := []event.Event{noteAt(t0.Add(10*time.Second), "SIGHUP twice, from puppet"), noteAt(t0.Add(80*time.Second), "after the end")}
	appendNotes(t, path, notes...)

	after := mustRead(t, path)
	if !bytes.HasPrefix(after, before) {
		t.Fatal("Append changed bytes that were already in the file")
	}
	readBoth(t, path, inTimeOrder(evs, notes...))

	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.End().Equal(t0.Add(80 * time.Second)) {
		t.Fatalf("End %v: the appended note should extend the recording", r.End())
	}
	// A seek into the appended time finds the note through the index.
	got, err := readAll(t, r, t0.Add(75*time.Second))
	if err != nil || len(got) != 1 || got[0].Kind != event.KindNote {
		t.Fatalf("from +75s: %d events (%v)", len(got), err)
	}
	if n, _ := event.As[event.Note](got[0]); n.Text != "after the end" || n.Author != "alice" {
		t.Fatalf("note %+v", n)
	}
}

func TestAppendTwice(t *testing.T) {
	path, evs := writeSession(t, t.TempDir(), 5)
	a := noteAt(t0.Add(2*time.Second), "first")
	b := noteAt(t0.Add(3*time.Second), "second")
	appendNotes(t, path, a)
	appendNotes(t, path, b)
	readBoth(t, path, inTimeOrder(evs, a, b))
	// Three closes: two indexes now sit in the middle of the data.
	if n := bytes.Count(mustRead(t, path), []byte("STKCI")); n != 3 {
		t.Fatalf("%d index chunks, want 3", n)
	}
}

// A file written by format 1.0 (before Append existed) takes appends too.
func TestAppendToFormat10File(t *testing.T) {
	path, evs := writeSession(t, t.TempDir(), 3)
	b := mustRead(t, path)
	b[10], b[11] = 0, 0 // minor 0; the preamble is outside every CRC
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	n := noteAt(t0.Add(time.Second), "old file")
	appendNotes(t, path, n)
	readBoth(t, path, inTimeOrder(evs, n))
}

func TestAppendToKilledFile(t *testing.T) {
	dir := t.TempDir()
	full, evs := writeSession(t, dir, 70)
	b := mustRead(t, full)
	r, _ := openBytes(b)
	noIndex := b[:r.dataEnd] // killed: the last segment's frame never ended, no index

	path := filepath.Join(dir, "killed.stk")
	os.WriteFile(path, noIndex, 0o600)
	n := noteAt(t0.Add(30*time.Second), "killed, then noted")
	appendNotes(t, path, n)
	if got := mustRead(t, path); !bytes.HasPrefix(got, noIndex) {
		t.Fatal("Append changed bytes of a killed file")
	}
	readBoth(t, path, inTimeOrder(evs, n))
}

func TestAppendCutsATornTail(t *testing.T) {
	dir := t.TempDir()
	full, evs := writeSession(t, dir, 70)
	b := mustRead(t, full)
	r, _ := openBytes(b)
	torn := b[:r.dataEnd-7] // the last chunk cut short

	path := filepath.Join(dir, "torn.stk")
	os.WriteFile(path, torn, 0o600)
	before, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	readable, _ := readAll(t, before, time.Time{})
	lastChunk := before.Damage().Offset
	before.Close()

	n := noteAt(t0.Add(69*time.Second), "after a crash")
	appendNotes(t, path, n)
	got := mustRead(t, path)
	if !bytes.Equal(got[:lastChunk], torn[:lastChunk]) {
		t.Fatal("Append changed bytes before the torn chunk")
	}
	if len(readable) == 0 {
		t.Fatalf("none of %d events readable before the append", len(evs))
	}
	readBoth(t, path, inTimeOrder(readable, n))
}

func TestAppendRefusesCorruption(t *testing.T) {
	dir := t.TempDir()
	full, _ := writeSession(t, dir, 70)
	b := mustRead(t, full)
	r, _ := openBytes(b)
	bad := append([]byte(nil), b[:r.dataEnd]...)
	bad[r.segs[1].Off+chunkHeaderSize+3] ^= 0xff // a whole chunk, wrong CRC

	path := filepath.Join(dir, "bad.stk")
	os.WriteFile(path, bad, 0o600)
	_, err := Append(path, manual())
	if !errors.Is(err, ErrDamagedFile) || !strings.Contains(err.Error(), "not appending") {
		t.Fatalf("Append to a corrupt file: %v", err)
	}
	if !bytes.Equal(mustRead(t, path), bad) {
		t.Fatal("a refused Append changed the file")
	}
}

func TestAppendRefusesLiveRecording(t *testing.T) {
	old := appendLockWait
	appendLockWait = 50 * time.Millisecond
	defer func() { appendLockWait = old }()

	path := filepath.Join(t.TempDir(), "live.stk")
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	recordSeconds(t, w, t0, 2, 1)
	before := mustRead(t, path)
	_, err = Append(path, manual())
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Append while recording: %v", err)
	}
	if !bytes.Equal(mustRead(t, path), before) {
		t.Fatal("a refused Append changed the file")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Once the recording ends, the lock is gone.
	appendNotes(t, path, noteAt(t0, "now"))

	// And an open appender locks out a second one.
	a, err := Append(path, manual())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Append(path, manual()); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Append: %v", err)
	}
	a.Close()
}

func TestAppendRefusesNonSessions(t *testing.T) {
	dir := t.TempDir()
	if _, err := Append(filepath.Join(dir, "missing.stk"), manual()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello\n"), 0o600)
	if _, err := Append(text, manual()); !errors.Is(err, ErrNotSession) {
		t.Fatalf("text file: %v", err)
	}
	if b := mustRead(t, text); string(b) != "hello\n" {
		t.Fatalf("text file changed: %q", b)
	}
	if _, err := Append(dir, manual()); err == nil {
		t.Fatal("Append to a directory succeeded")
	}
}

// Append honours the free-space floor like Create.
func TestAppendRefusesFullDisk(t *testing.T) {
	path, _ := writeSession(t, t.TempDir(), 2)
	before := mustRead(t, path)
	o := manual()
	o.FreeSpace = func(string) (uint64, uint64, error) { return 1 << 20, 1 << 30, nil }
	if _, err := Append(path, o); !errors.Is(err, ErrStopped) {
		t.Fatalf("Append on a full disk: %v", err)
	}
	if !bytes.Equal(mustRead(t, path), before) {
		t.Fatal("a refused Append changed the file")
	}
}

// A replay seeking to a note's time gets it there, not after the end of the
// recording where its bytes are.
func TestPlayerDeliversAppendedNoteAtItsTime(t *testing.T) {
	path, _ := writeSession(t, t.TempDir(), 70)
	n := noteAt(t0.Add(10*time.Second+time.Millisecond), "here")
	appendNotes(t, path, n)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := NewPlayer(r, 0, nil)
	if _, err := p.Seek(t0.Add(9 * time.Second)); err != nil {
		t.Fatal(err)
	}
	evs, err := p.AdvanceTo(t0.Add(11 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, ev := range evs {
		found = found || ev.Kind == event.KindNote
	}
	if !found {
		t.Fatalf("no note among %d events from +9s to +11s", len(evs))
	}
	if rest, _ := p.AdvanceTo(r.End()); len(rest) == 0 {
		t.Fatal("nothing after +11s")
	} else {
		for _, ev := range rest {
			if ev.Kind == event.KindNote {
				t.Fatal("the note came again")
			}
		}
	}
}

// Past the memory bound, appended events come in file order instead: all
// of them still arrive.
func TestAppendedBeyondTheBoundKeepFileOrder(t *testing.T) {
	path, evs := writeSession(t, t.TempDir(), 3)
	w, err := Append(path, manual())
	if err != nil {
		t.Fatal(err)
	}
	// Text that differs from note to note: 8 MiB of one note repeated
	// compresses past the reader's limit (maxReadRatio), as no typed
	// notes do.
	rng := rand.New(rand.NewSource(1))
	text := make([]byte, event.MaxNoteRunes)
	var notes []event.Event
	for i := 0; len(notes)*(len(text)+256) <= maxAppendedBytes; i++ {
		for j := range text {
			text[j] = byte('a' + rng.Intn(26))
		}
		n := event.New(t0.Add(time.Duration(i%3)*time.Second), event.ProbeNote, event.Note{Author: "a", Text: string(text)})
		if err := w.Write(n); err != nil {
			t.Fatal(err)
		}
		notes = append(notes, n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, got, append(append([]event.Event(nil), evs...), notes...))
}
