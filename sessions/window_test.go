package sessions

import (
	"bytes"
	"math/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// outOfOrderSession writes a recording whose file order is not its time
// order, the way real ones are not: the kernel log's backlog (six minutes
// before the session) is written after the first samples, one event early
// in the file is stamped in the year 3000 (a bad clock, or a hostile file),
// a batch of lines two minutes old comes in the middle, and notes are appended after the file was closed, one of them about a
// moment in the backlog. It returns the path and every event in the order
// a reader delivers them.
func outOfOrderSession(t *testing.T) (string, []event.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ooo.stk")
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	flush := func() {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(7))
	for _, ev := range quietSecond(rng, t0) {
		write(ev)
	}
	flush()
	for s := 0; s < 90; s++ { // the backlog, 6 to 4.5 minutes before the start
		write(futureEvent(t0.Add(-6*time.Minute+time.Duration(s)*time.Second), "kmsg", map[string]any{"text": "backlog line", "seq": s}))
	}
	flush()
	for s := 1; s <= 240; s++ {
		for _, ev := range quietSecond(rng, t0.Add(time.Duration(s)*time.Second)) {
			write(ev)
		}
		if s == 20 {
			write(futureEvent(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "clock", map[string]any{"bad": true}))
		}
		flush()
		if s == 150 { // a late batch, two minutes behind: a segment of its own
			for l := 10; l < 40; l++ {
				write(futureEvent(t0.Add(time.Duration(l)*time.Second), "late", map[string]any{"line": l}))
			}
			flush()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	notes := []event.Event{noteAt(t0.Add(-5*time.Minute), "about the backlog"), noteAt(t0.Add(100*time.Second), "mid-session")}
	appendNotes(t, path, notes...)
	return path, mergeNotes(evs, notes)
}

// futureEvent is an event of a kind this build does not know, PROBE_future.
func futureEvent(at time.Time, probe string, fields map[string]any) event.Event {
	fields["time"], fields["probe"], fields["kind"] = at.Format(time.RFC3339Nano), probe, probe+"_future"
	return rawEvent(at, probe, probe+"_future", fields)
}

// mergeNotes is what a reader delivers: the recording in file order, with
// the appended notes (in time order) each before the first later event.
func mergeNotes(recorded, notes []event.Event) []event.Event {
	var out []event.Event
	for _, ev := range recorded {
		for len(notes) > 0 && notes[0].Time.Before(ev.Time) {
			out, notes = append(out, notes[0]), notes[1:]
		}
		out = append(out, ev)
	}
	return append(out, notes...)
}

// upTo keeps the events at or before t, in order.
func upTo(evs []event.Event, t time.Time) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		if !ev.Time.After(t) {
			out = append(out, ev)
		}
	}
	return out
}

// TestIterRangeOutOfOrder: however a recording's file order departs from
// time order, IterRange(_, until) delivers every event at or before until,
// through the index of a closed file and through the chunk walk of one
// whose index is lost, while still reading only part of the file when the
// window ends early.
func TestIterRangeOutOfOrder(t *testing.T) {
	path, all := outOfOrderSession(t)
	b := mustRead(t, path)
	indexed, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if indexed.lateFrom == 0 || len(indexed.segs) < 5 {
		t.Fatalf("fixture: %d segments, appended from %d", len(indexed.segs), indexed.lateFrom)
	}
	if got, err := readAll(t, indexed, time.Time{}); err != nil {
		t.Fatal(err)
	} else {
		sameEvents(t, got, all)
	}
	// Cut before its first index, the file is the recording as killed,
	// whose segments the reader finds by walking the chunks.
	closed, err := openBytes(b[:indexed.lateFrom])
	if err != nil {
		t.Fatal(err)
	}
	killed, err := openBytes(b[:closed.dataEnd])
	if err != nil || killed.closed || killed.Damage() != nil {
		t.Fatalf("killed copy: %v, closed %v, damage %v", err, killed.closed, killed.Damage())
	}
	recorded := all[:0:0]
	for _, ev := range all {
		if ev.Kind != event.KindNote {
			recorded = append(recorded, ev)
		}
	}
	untils := []time.Time{
		t0.Add(-6 * time.Minute), t0.Add(-5 * time.Minute), t0.Add(-time.Second), t0,
		t0.Add(30 * time.Second), t0.Add(100 * time.Second), t0.Add(150 * time.Second), t0.Add(240 * time.Second),
		time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, c := range []struct {
		name string
		r    *Reader
		want []event.Event
	}{{"indexed", indexed, all}, {"walked", killed, recorded}} {
		for _, until := range untils {
			it := c.r.IterRange(time.Time{}, until)
			var got []event.Event
			for ev, ok := it.Next(); ok; ev, ok = it.Next() {
				got = append(got, ev)
			}
			if err := it.Err(); err != nil {
				t.Fatalf("%s until %v: %v", c.name, until, err)
			}
			sameEvents(t, upTo(got, until), upTo(c.want, until))
		}
	}

	// An early window reads a small part of a long file.
	cr := &countingReaderAt{ra: bytes.NewReader(b)}
	r, err := newReader(cr, int64(len(b)), "counted.stk")
	if err != nil {
		t.Fatal(err)
	}
	r.windowIndex()
	opened := cr.n.Load()
	it := r.IterRange(time.Time{}, t0.Add(5*time.Second))
	for _, ok := it.Next(); ok; _, ok = it.Next() {
	}
	if read := cr.n.Load() - opened; read > int64(len(b))/4 {
		t.Errorf("the first 5 s of a 4-minute file: read %d of its %d bytes", read, len(b))
	}
}

// TestIterPassed: Passed(t) never claims a time while an event at or before
// it is still to come, and does let go of early times before the end.
func TestIterPassed(t *testing.T) {
	path, all := outOfOrderSession(t)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var probes []time.Time
	for s := -7 * 60; s <= 250; s += 5 {
		probes = append(probes, t0.Add(time.Duration(s)*time.Second))
	}
	passedAt := make([]int, len(probes)) // events delivered when Passed first held
	for i := range passedAt {
		passedAt[i] = -1
	}
	it := r.Iter(time.Time{})
	n := 0 // events delivered
	for more := true; ; {
		for i, p := range probes {
			if passedAt[i] < 0 && it.Passed(p) {
				passedAt[i] = n
				for _, ev := range all[n:] {
					if !ev.Time.After(p) {
						t.Fatalf("Passed(%v) after %d events, but %s at %v is still to come", p, n, ev.Kind, ev.Time)
					}
				}
			}
		}
		if !more {
			break
		}
		if _, more = it.Next(); more {
			n++
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	early := 0
	for i, n := range passedAt {
		if n < 0 {
			t.Errorf("Passed(%v) never held", probes[i])
		}
		if n >= 0 && n < len(all)/2 {
			early++
		}
	}
	if early == 0 {
		t.Error("Passed held for no time before the end of the file")
	}
}

// TestRawIter: RawIter delivers what Iter does, in the same order, with
// the records as read (Raw) and no decoded bodies, except for the appended
// notes it merges in from memory.
func TestRawIter(t *testing.T) {
	path, _ := outOfOrderSession(t)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	full, raw := r.Iter(time.Time{}), r.RawIter(time.Time{})
	n := 0
	for {
		a, aok := full.Next()
		b, bok := raw.Next()
		if aok != bok {
			t.Fatalf("event %d: one iterator ended first", n)
		}
		if !aok {
			break
		}
		n++
		if !a.Time.Equal(b.Time) || a.Kind != b.Kind || a.Probe != b.Probe || string(a.Raw) != string(b.Raw) {
			t.Fatalf("event %d: %s at %v, raw %s at %v", n, a.Kind, a.Time, b.Kind, b.Time)
		}
		if b.Body != nil && b.Kind != event.KindNote {
			t.Fatalf("event %d (%s) was decoded", n, b.Kind)
		}
	}
	if full.Err() != nil || raw.Err() != nil || n < 700 {
		t.Fatalf("%d events; %v, %v", n, full.Err(), raw.Err())
	}
}
