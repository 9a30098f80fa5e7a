package sessions

import (
	"path/filepath"
	"testing"
	"time"
)

// TestSessionStart: a backlog three hours before the header's start does
// not move the session's start (it moves the span's); a header start
// outside the events, or none, gives the span's start.
func TestSessionStart(t *testing.T) {
	write := func(started time.Time) *Reader {
		path := filepath.Join(t.TempDir(), "s.stk")
		h := testHeader()
		h.Started = started
		w, err := Create(path, h, manual())
		if err != nil {
			t.Fatal(err)
		}
		for s := 0; s < 10; s++ {
			w.Write(rawEvent(t0.Add(time.Duration(s)*time.Second), "p", "k", map[string]any{"s": s}))
		}
		for m := 180; m > 0; m -= 30 { // the backlog, written after the first samples
			w.Write(rawEvent(t0.Add(-time.Duration(m)*time.Minute), "kmsg", "kmsg", map[string]any{"text": "old"}))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	r := write(t0)
	if lo, _ := r.PlausibleSpan(); !lo.Equal(t0.Add(-3*time.Hour)) || !r.SessionStart().Equal(t0) {
		t.Errorf("span starts %v, session %v; want the backlog 3 h before, and %v", lo, r.SessionStart(), t0)
	}
	for _, bad := range []time.Time{{}, t0.Add(24 * time.Hour)} {
		if r := write(bad); !r.SessionStart().Equal(t0.Add(-3 * time.Hour)) {
			t.Errorf("header start %v: session start %v, want the span's start", bad, r.SessionStart())
		}
	}
}
