package sessions

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// progressRecording writes 300 s of samples with the kernel log's backlog,
// stamped a minute before the session's start, recorded after the first
// samples: a recording not in time order.
func progressRecording(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "progress.stk")
	var evs []event.Event
	for s := 0; s < 300; s++ {
		evs = append(evs, event.New(xt(float64(s)), "signals", &schema.Trace{PID: 10 + s%3, State: "attached"}))
		if s == 2 {
			for i := 0; i < 5; i++ {
				evs = append(evs, event.New(xt(float64(-60+i)), "kmsg", &schema.Kmsg{Text: "backlog"}))
			}
		}
	}
	writeEvents(t, path, evs...)
	return path
}

// TestExtractProgress: an extract with a progress hook reports its three
// reads in order, each pass's Done never going down (though the backlog
// comes after later events) and reaching 1 at its end, one call per event
// read, and writes the same bytes as an extract without the hook.
func TestExtractProgress(t *testing.T) {
	path := progressRecording(t)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := t.TempDir()
	var got []Progress
	plain, hooked := filepath.Join(dir, "plain.stk"), filepath.Join(dir, "hooked.stk")
	if _, err := Extract(r, path, plain, xt(200), xt(250), ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := Extract(r, path, hooked, xt(200), xt(250), ExtractOptions{Progress: func(p Progress) { got = append(got, p) }})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(plain)
	b, _ := os.ReadFile(hooked)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("the extract with a progress hook differs: %d bytes against %d", len(b), len(a))
	}
	if len(got) == 0 {
		t.Fatal("the hook was never called")
	}
	calls := map[int]int{}
	var last Progress
	for i, p := range got {
		if p.Passes != 3 || p.Pass < last.Pass || p.Pass < 1 || p.Pass > 3 {
			t.Fatalf("call %d: pass %d of %d after pass %d", i, p.Pass, p.Passes, last.Pass)
		}
		if p.Pass == last.Pass && p.Done < last.Done {
			t.Fatalf("call %d: pass %d went back from %.3f to %.3f (at %s)", i, p.Pass, last.Done, p.Done, p.At)
		}
		if p.Done < 0 || p.Done > 1 {
			t.Fatalf("call %d: done %v", i, p.Done)
		}
		if i+1 == len(got) || got[i+1].Pass != p.Pass {
			if p.Done != 1 {
				t.Errorf("pass %d ended at %.3f", p.Pass, p.Done)
			}
		}
		calls[p.Pass]++
		last = p
	}
	// The copy (pass 3) reads each event it writes once, and the state
	// before the history (pass 2) reads the backlog, out of order.
	if calls[3] < st.Window || calls[2] < 5 || calls[1] == 0 {
		t.Errorf("calls per pass %v; %d events in the window", calls, st.Window)
	}
	var sawBacklog bool
	for _, p := range got {
		if p.Pass == 2 && p.At.Before(xt(0)) && p.Done > 0 {
			sawBacklog = true // read after later events: Done held
		}
	}
	if !sawBacklog {
		t.Error("the backlog, read after later events, was not reported with the progress already made")
	}
}

// TestProgressTrackerBounds: a read whose span is empty is done; times
// outside the span clamp; without a hook there is nothing to call.
func TestProgressTrackerBounds(t *testing.T) {
	r, err := Open(progressRecording(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ProgressTracker(r, nil, 1, 1, time.Time{}, time.Time{}) != nil {
		t.Error("a tracker without a hook")
	}
	var p Progress
	track := ProgressTracker(r, func(q Progress) { p = q }, 1, 2, time.Time{}, time.Time{})
	track(xt(-600))
	if p.Done != 0 || p.Pass != 1 || p.Passes != 2 || !p.At.Equal(xt(-600)) {
		t.Errorf("before the span: %+v", p)
	}
	lo, hi := r.PlausibleSpan() // the backlog's first event to the last sample
	track(lo.Add(hi.Sub(lo) / 2))
	if p.Done < 0.49 || p.Done > 0.51 {
		t.Errorf("half way: %+v", p)
	}
	track(xt(10_000))
	if p.Done != 1 {
		t.Errorf("past the span: %+v", p)
	}
	empty := ProgressTracker(r, func(q Progress) { p = q }, 2, 2, xt(50), xt(50))
	empty(xt(50))
	if p.Done != 1 {
		t.Errorf("an empty span: %+v", p)
	}
}
