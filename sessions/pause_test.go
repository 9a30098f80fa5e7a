package sessions

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// seqEvent is event number seq of a test stream, one every 100 ms.
func seqEvent(seq int) event.Event {
	return event.New(t0.Add(time.Duration(seq)*100*time.Millisecond), "seq",
		&ioSample{Devices: []ioDevice{{Device: "sda", ReadBytesPS: seq}}})
}

func seqOf(ev event.Event) (int, bool) {
	s, ok := ev.Body.(*ioSample)
	if !ok {
		return 0, false
	}
	return s.Devices[0].ReadBytesPS, true
}

// pausedFile reads a recording and splits it around its pause: the sequence
// numbers of the test events and the recorder's own events, in file order.
func pausedFile(t *testing.T, path string) (seqs []int, rec []event.Event, damage *Damage) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	evs, err := readAll(t, r, time.Time{})
	if err != nil && asDamage(err) == nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if s, ok := seqOf(ev); ok {
			seqs = append(seqs, s)
		} else if ev.Probe == recorderProbe {
			rec = append(rec, ev)
		}
	}
	return seqs, rec, r.Damage()
}

// checkRun fails unless seqs is exactly from, from+1, …, to-1.
func checkRun(t *testing.T, what string, seqs []int, from, to int) {
	t.Helper()
	if len(seqs) != to-from {
		t.Fatalf("%s: %d events, want %d (%d…%d): %v", what, len(seqs), to-from, from, to-1, seqs)
	}
	for i, s := range seqs {
		if s != from+i {
			t.Fatalf("%s: event %d has sequence %d, want %d", what, i, s, from+i)
		}
	}
}

func checkPauseNotice(t *testing.T, rec []event.Event, path, reasonHas string) {
	t.Helper()
	if len(rec) < 2 {
		t.Fatalf("recorder events %v: want a pause notice", rec)
	}
	r, ok := rec[0].Body.(*event.Recording)
	if !ok || r.State != StatePaused || !strings.Contains(r.Reason, reasonHas) || r.Hint != DefaultPauseHint || r.File != path {
		t.Fatalf("first recorder event %s", jsonOf(t, rec[0]))
	}
	f, ok := event.As[event.Finding](rec[1])
	if !ok || f.Finding != FindingRecordPaused || f.Severity != event.Warn || !strings.Contains(f.Summary, "--record") ||
		f.Key != FindingRecordPaused || f.State != "" {
		t.Fatalf("second recorder event %s", jsonOf(t, rec[1]))
	}
	data, _ := f.Data.(map[string]any)
	if data["file"] != path || !strings.Contains(data["reason"].(string), reasonHas) || data["hint"] != DefaultPauseHint ||
		data["bytes"].(float64) <= 0 {
		t.Fatalf("record.paused data %v", f.Data)
	}
}

func checkResumed(t *testing.T, ev event.Event, dropped uint64, pausedS float64) {
	t.Helper()
	r, ok := ev.Body.(*event.Recording)
	if !ok || r.State != StateResumed || r.EventsDropped == nil || r.PausedS == nil {
		t.Fatalf("resume event %s", jsonOf(t, ev))
	}
	if *r.EventsDropped != dropped || (pausedS >= 0 && *r.PausedS != pausedS) {
		t.Fatalf("resumed after %v s with %d dropped, want %v s and %d: %s", *r.PausedS, *r.EventsDropped, pausedS, dropped, jsonOf(t, ev))
	}
}

// TestPauseBelowFloorAndResume: the free-space floor pauses the recording
// instead of ending it; events are dropped and counted, not buffered; the
// filesystem must clear the floor by half again, besides room for the
// largest chunk, before it resumes; the file is whole, with the gap
// explained.
func TestPauseBelowFloorAndResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pause.stk")
	const fsSize = 100 << 20 // floor 5 MiB; resumes from about 9 MiB free
	avail := uint64(50 << 20)
	statfs := 0
	o := manual()
	o.FreeSpace = func(string) (uint64, uint64, error) { statfs++; return avail, fsSize, nil }
	w, err := Create(path, testHeader(), o)
	if err != nil {
		t.Fatal(err)
	}
	seq := 0
	write := func(n int) {
		for range n {
			if err := w.Write(seqEvent(seq)); err != nil {
				t.Fatal(err)
			}
			seq++
			if seq%10 == 0 {
				if err := w.Flush(); err != nil {
					t.Fatalf("Flush: %v", err)
				}
			}
		}
	}
	write(100)
	avail = 5<<20 + 1<<10 // above the floor, but not with room for a chunk and the tail
	write(5)              // buffered, then dropped by the flush that pauses
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush at the floor: %v (pausing is not an error)", err)
	}
	reason, paused := w.Paused()
	if !paused || !strings.Contains(reason, "filesystem nearly full") {
		t.Fatalf("Paused() = %q, %v", reason, paused)
	}
	if _, stopped := w.Stopped(); stopped {
		t.Fatal("the floor stopped the recording for good")
	}
	size := w.Size()
	write(95) // seq 105…199, dropped
	if w.Size() != size || len(w.pending) != 0 {
		t.Fatalf("paused writer grew: %d → %d bytes, %d pending", size, w.Size(), len(w.pending))
	}
	// Back above the floor and half again, but without room for a 1.5 MiB
	// chunk on top: stays paused.
	avail = 8<<20 + 512<<10
	write(50) // 200…249
	if reason, paused := w.Paused(); !paused {
		t.Fatal("resumed at 8.5 MiB free: should wait for the floor, half again and the largest chunk")
	} else if !strings.Contains(reason, "resuming at 9.0 MiB free") {
		t.Fatalf("paused for %q", reason)
	}
	if got := w.Dropped(); got != 150 {
		t.Fatalf("Dropped() = %d, want 150", got)
	}
	// The file is a readable recording while paused.
	seqs, rec, _ := pausedFile(t, path)
	checkRun(t, "while paused", seqs, 0, 100)
	checkPauseNotice(t, rec, path, "nearly full")

	avail = 9<<20 + 64<<10
	statfsBefore := statfs
	w.Flush() // resumes
	if _, paused := w.Paused(); paused {
		t.Fatal("still paused with 9.06 MiB free")
	}
	if statfs-statfsBefore > 2 {
		t.Fatalf("%d statfs calls for one flush", statfs-statfsBefore)
	}
	notices := w.TakeNotices()
	if len(notices) != 3 || len(w.TakeNotices()) != 0 {
		t.Fatalf("notices %v", notices)
	}
	write(50) // 250…299
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seqs, rec, damage := pausedFile(t, path)
	if damage != nil {
		t.Fatalf("closed file damaged: %v", damage)
	}
	checkRun(t, "before the pause", seqs[:100], 0, 100)
	checkRun(t, "after the resume", seqs[100:], 250, 300)
	checkPauseNotice(t, rec, path, "nearly full")
	if len(rec) != 3 {
		t.Fatalf("recorder events: %v", rec)
	}
	// Paused when seq 104 was the newest event; resumed at seq 249.
	checkResumed(t, rec[2], 150, 14.5)
}

// TestPauseAskedAndResume: Pause (the engine's, for a filling filesystem)
// saves what is buffered first; Resume starts at once unless the floor also
// holds the pause.
func TestPauseAskedAndResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asked.stk")
	avail := uint64(50 << 20)
	o := manual()
	o.FreeSpace = func(string) (uint64, uint64, error) { return avail, 100 << 20, nil }
	w, err := Create(path, testHeader(), o)
	if err != nil {
		t.Fatal(err)
	}
	seq := 0
	write := func(n int) {
		for range n {
			w.Write(seqEvent(seq))
			seq++
		}
	}
	write(30) // never flushed before the pause: Pause saves them
	w.Pause("/var filling: full in 4m")
	write(20)
	if reason, paused := w.Paused(); !paused || reason != "/var filling: full in 4m" {
		t.Fatalf("Paused() = %q, %v", reason, paused)
	}
	w.Resume()
	write(10) // 50…59
	// A second pause, which the floor joins; Resume alone is not enough.
	w.Pause("/var filling again")
	avail = 5 << 20
	w.Resume()
	write(5) // 60…64, dropped
	if _, paused := w.Paused(); !paused {
		t.Fatal("Resume lifted a pause the floor still holds")
	}
	avail = 50 << 20
	w.Flush()
	write(5) // 65…69
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seqs, rec, damage := pausedFile(t, path)
	if damage != nil {
		t.Fatal(damage)
	}
	checkRun(t, "first part", seqs[:30], 0, 30)
	checkRun(t, "second part", seqs[30:40], 50, 60)
	checkRun(t, "third part", seqs[40:], 65, 70)
	if len(rec) != 6 {
		t.Fatalf("%d recorder events, want pause, finding, resume twice: %v", len(rec), rec)
	}
	checkPauseNotice(t, rec, path, "full in 4m")
	checkResumed(t, rec[2], 20, 2)
	checkPauseNotice(t, rec[3:], path, "filling again")
	checkResumed(t, rec[5], 5, -1)
}

// TestMaxBytesStopsWhilePausable: --record-max still ends the recording for
// good, and a stopped Writer ignores Pause and Resume.
func TestMaxBytesStopsWhilePausable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "max.stk")
	o := manual()
	o.MaxBytes = 64 << 10
	w, err := Create(path, testHeader(), o)
	if err != nil {
		t.Fatal(err)
	}
	w.Pause("x")
	w.Resume()
	writeUntilStopped(t, w, 100000)
	w.Pause("y")
	if _, paused := w.Paused(); paused {
		t.Fatal("a stopped writer paused")
	}
	if err := w.Write(seqEvent(0)); !errors.Is(err, ErrStopped) {
		t.Fatalf("Write after stop: %v", err)
	}
	w.Close()
	checkStoppedFile(t, path, "limit")
}

const pauseKillChildEnv = "STAKEOUT_SESSIONS_PAUSE_KILL_CHILD"

// pauseKillChild records seq 0…49, pauses for 50…99, resumes, and records
// from 100 until killed, one event every 10 ms with the production flusher.
func pauseKillChild(path string) {
	w, err := Create(path, testHeader(), WriterOptions{})
	if err != nil {
		os.Exit(3)
	}
	for seq := 0; ; seq++ {
		switch seq {
		case 50:
			w.Pause("test pause")
		case 100:
			w.Resume()
		}
		w.Write(seqEvent(seq))
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKilledAfterPauseAndResume: a recording that paused and resumed and was
// then SIGKILLed keeps everything from before the pause, both notices, and
// the events after the resume up to about a second before the kill.
func TestKilledAfterPauseAndResume(t *testing.T) {
	if path := os.Getenv(pauseKillChildEnv); path != "" {
		pauseKillChild(path)
		return
	}
	if testing.Short() {
		t.Skip("takes 2.5 s")
	}
	path := filepath.Join(t.TempDir(), "killed.stk")
	// The resume comes after about 1 s.
	recordAndKill(t, "TestKilledAfterPauseAndResume", pauseKillChildEnv, path, 2500*time.Millisecond)
	seqs, rec, damage := pausedFile(t, path)
	if damage != nil {
		t.Logf("damage after kill: %v", damage) // allowed: the kill may land mid-write
	}
	if len(seqs) <= 50 {
		t.Fatalf("only %d events survived: %v", len(seqs), seqs)
	}
	checkRun(t, "before the pause", seqs[:50], 0, 50)
	checkRun(t, "after the resume", seqs[50:], 100, 100+len(seqs)-50)
	if len(rec) != 3 {
		t.Fatalf("recorder events %v", rec)
	}
	checkPauseNotice(t, rec, path, "test pause")
	checkResumed(t, rec[2], 50, -1)
	t.Logf("%d events survived, the last %d after the resume", len(seqs), len(seqs)-50)
}

// With Own set (--redact), the stopped, paused and resumed notices reach
// the file rewritten like every other event: they name the file's path.
func TestOwnRewritesTheWritersNotices(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db-7.corp.stk")
	o := manual()
	o.MaxBytes = 64 << 10
	o.FreeSpace = func(string) (uint64, uint64, error) { return 50 << 20, 100 << 20, nil }
	o.Own = func(ev event.Event) event.Event {
		switch b := ev.Body.(type) {
		case *event.Recording:
			c := *b
			c.File = "host-1.stk"
			ev.Body = &c
		case *event.Finding:
			c := *b
			c.Summary = strings.ReplaceAll(c.Summary, path, "host-1.stk")
			c.Data = nil
			ev.Body = &c
		}
		return ev
	}
	w, err := Create(path, testHeader(), o)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(seqEvent(0))
	w.Pause("asked")
	w.Resume()
	for seq := 1; ; seq++ { // until --record-max stops it
		if w.Write(seqEvent(seq)) != nil || w.Flush() != nil {
			break
		}
		if seq > 100000 {
			t.Fatal("never stopped")
		}
	}
	w.Close()
	_, rec, _ := pausedFile(t, path)
	var states []string
	for _, ev := range rec {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("db-7.corp")) {
			t.Errorf("the writer's own event names the file: %s", b)
		}
		if r, ok := ev.Body.(*event.Recording); ok {
			states = append(states, r.State)
		}
	}
	if strings.Join(states, ",") != "paused,resumed,stopped" {
		t.Errorf("recording states %v, want paused, resumed, stopped", states)
	}
}
