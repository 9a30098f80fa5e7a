package handoff

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/sessions"
)

// TestProgressHook: over a real recording, the progress hook hears every
// event of the first pass (the replay) and then the evidence sweep, each
// pass's Done never going down and the replay's reaching 1, and the
// report, Markdown and HTML, is the same with the hook as without it,
// for the whole file and for a window.
func TestProgressHook(t *testing.T) {
	path := writeFixture(t, plain)
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	it := r.Iter(time.Time{})
	for _, ok := it.Next(); ok; _, ok = it.Next() {
		events++
	}
	r.Close()
	for _, win := range []Options{{}, {Since: at(15_000), Until: at(40_000)}} {
		var got []sessions.Progress
		hooked := win
		hooked.Progress = func(p sessions.Progress) { got = append(got, p) }
		with, without := build(t, path, hooked), build(t, path, win)
		if markdown(t, with) != markdown(t, without) || html(t, with) != html(t, without) {
			t.Fatalf("window %v: the report differs with a progress hook", win.Since)
		}
		calls := map[int]int{}
		var last sessions.Progress
		for i, p := range got {
			if p.Passes != 2 || p.Pass < last.Pass || p.Pass < 1 || p.Pass > 2 {
				t.Fatalf("call %d: pass %d of %d after pass %d", i, p.Pass, p.Passes, last.Pass)
			}
			if p.Pass == last.Pass && p.Done < last.Done {
				t.Fatalf("call %d: pass %d went back from %.3f to %.3f", i, p.Pass, last.Done, p.Done)
			}
			if p.Pass == 2 && last.Pass == 1 && last.Done != 1 {
				t.Errorf("the replay ended at %.3f", last.Done)
			}
			calls[p.Pass]++
			last = p
		}
		if win.Until.IsZero() && calls[1] != events {
			t.Errorf("the replay reported %d events of %d", calls[1], events)
		}
		if calls[1] == 0 || calls[2] == 0 || last.Pass != 2 || last.Done <= 0 {
			t.Errorf("window %v: calls per pass %v, last %+v", win.Since, calls, last)
		}
	}
}
