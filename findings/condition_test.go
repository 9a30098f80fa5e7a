package findings

import (
	"slices"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// condTest is a finding under one key with a figure, for the tracker's rules.
func condTest(key string, sev event.Severity, figure int) *event.Finding {
	return &event.Finding{Finding: "test.cond", Key: key, Severity: sev, Data: figure}
}

func figureDoubled(prev, cur *event.Finding) bool { return cur.Data.(int) >= 2*prev.Data.(int) }

// states lists the State of each finding, "raise" for the empty one, so a
// test reads as the sequence a consumer sees.
func states(fs ...*event.Finding) []string {
	var out []string
	for _, f := range fs {
		switch {
		case f == nil:
			out = append(out, "-")
		case f.State == "":
			out = append(out, "raise")
		default:
			out = append(out, f.State)
		}
	}
	return out
}

func TestCondsRaiseOnceThenRateLimitedUpdates(t *testing.T) {
	var c conds
	at := func(s int) time.Time { return kt0.Add(time.Duration(s) * time.Second) }
	var got []*event.Finding
	// Held every second for two minutes with a figure that drifts by one:
	// one raise, then only the once-a-minute refreshes.
	for s := 0; s <= 120; s++ {
		got = append(got, c.hold(at(s), condTest("k", event.Warn, 10+s%3), figureDoubled))
	}
	var sent []int
	for s, f := range got {
		if f != nil {
			sent = append(sent, s)
		}
	}
	if want := []int{0, 60, 120}; !slices.Equal(sent, want) {
		t.Fatalf("emitted at %v s, want %v", sent, want)
	}
	if got[0].State != "" || got[0].Count != 0 || !got[0].Since.IsZero() {
		t.Errorf("raise %+v", got[0])
	}
	if u := got[60]; u.State != event.FindingUpdate || u.Count != 61 || !u.Since.Equal(kt0) || u.Key != "k" {
		t.Errorf("update %+v", u)
	}
	// A rise in severity goes out at once; a material change of figures
	// waits for updateEvery after the last update, a fall too.
	if f := c.hold(at(121), condTest("k", event.Critical, 10), figureDoubled); f == nil || f.State != event.FindingUpdate || f.Severity != event.Critical {
		t.Fatalf("critical: %+v", f)
	}
	if f := c.hold(at(122), condTest("k", event.Critical, 50), figureDoubled); f != nil {
		t.Fatalf("material change 1 s after an update went out: %+v", f)
	}
	if f := c.hold(at(123), condTest("k", event.Warn, 50), figureDoubled); f != nil {
		t.Fatalf("fall 2 s after an update went out: %+v", f)
	}
	if f := c.hold(at(131), condTest("k", event.Warn, 50), figureDoubled); f == nil || f.Severity != event.Warn || f.Data.(int) != 50 {
		t.Fatalf("fall and doubled figure after 10 s: %+v", f)
	}
	// The end: a clear with the latest figures and the count; then the
	// same key is a new condition.
	c.hold(at(132), condTest("k", event.Warn, 70), figureDoubled)
	f := c.end(at(140), "k")
	if f == nil || f.State != event.FindingCleared || f.Count != 126 || f.Data.(int) != 70 || !f.Since.Equal(kt0) {
		t.Fatalf("clear %+v", f)
	}
	if f := c.end(at(141), "k"); f != nil {
		t.Fatalf("second clear %+v", f)
	}
	if f := c.hold(at(150), condTest("k", event.Warn, 1), figureDoubled); f == nil || f.State != "" {
		t.Fatalf("back after a clear: %+v", f)
	}
}

func TestCondsQuietWindowAndRestate(t *testing.T) {
	c := conds{quiet: time.Minute}
	at := func(s int) time.Time { return kt0.Add(time.Duration(s) * time.Second) }
	got := states(
		c.hold(at(0), condTest("k", event.Warn, 2), figureDoubled),
		// The occurrence on screen grew: restated at once.
		c.restate(at(1), condTest("k", event.Warn, 5), figureDoubled),
		// A second occurrence 30 s later joins the condition: no news yet.
		c.hold(at(30), condTest("k", event.Warn, 2), figureDoubled),
		// It grows, but it is not the one on screen: rate limited.
		c.restate(at(31), condTest("k", event.Warn, 9), figureDoubled),
		// A minute of quiet: the next one is raised anew, without a clear.
		c.hold(at(91), condTest("k", event.Warn, 2), figureDoubled),
	)
	if want := []string{"raise", "update", "-", "-", "raise"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if n := c.count("k", at(92)); n != 1 {
		t.Errorf("count after the new raise: %d", n)
	}
	if n := c.count("k", at(200)); n != 0 {
		t.Errorf("count once quiet: %d", n)
	}
}

func TestCondsEndQuietInKeyOrderAndBound(t *testing.T) {
	c := conds{max: 3}
	for i, k := range []string{"b", "a", "c"} {
		c.hold(kt0.Add(time.Duration(i)*time.Second), condTest(k, event.Warn, 1), nil)
	}
	// A fourth key evicts the least recently seen ("b"), silently.
	c.hold(kt0.Add(3*time.Second), condTest("d", event.Warn, 1), nil)
	if len(c.open) != 3 || c.open["b"] != nil {
		t.Fatalf("open %v", c.open)
	}
	ended := c.endQuiet(kt0.Add(10*time.Second), 8*time.Second)
	var keys []string
	for _, f := range ended {
		keys = append(keys, f.Key)
	}
	if want := []string{"a", "c"}; !slices.Equal(keys, want) {
		t.Fatalf("ended %v, want %v", keys, want)
	}
}

func TestCondKeyQuotesFreeText(t *testing.T) {
	if k := condKey("disk.filling", "/mnt/a b"); k != `disk.filling "/mnt/a b"` {
		t.Errorf("%s", k)
	}
	if k := condKey("signal.burst", 42, "SIGHUP"); k != "signal.burst 42 SIGHUP" {
		t.Errorf("%s", k)
	}
	if condKey("x", "a b", "c") == condKey("x", "a", "b c") {
		t.Error("keys collide")
	}
}

// A condition made of events (a crash loop) ends when its quiet window
// passes: sweep clears it with the final count, which the rate limit had
// kept from going out, at the first event after the window.
func TestCondsSweepClearsQuietConditions(t *testing.T) {
	c := conds{quiet: time.Minute}
	at := func(s int) time.Time { return kt0.Add(time.Duration(s) * time.Second) }
	c.hold(at(0), condTest("a", event.Warn, 1), nil)
	c.hold(at(5), condTest("a", event.Warn, 1), nil)
	c.hold(at(30), condTest("b", event.Warn, 1), nil)
	if got := c.sweep(at(64)); len(got) != 0 {
		t.Fatalf("swept early: %+v", got)
	}
	got := c.sweep(at(65))
	if len(got) != 1 || got[0].Key != "a" || got[0].State != event.FindingCleared || got[0].Count != 2 {
		t.Fatalf("at 65 s: %+v", got)
	}
	if got := c.sweep(at(89)); len(got) != 0 {
		t.Fatalf("b swept early: %+v", got)
	}
	if got := c.sweep(at(300)); len(got) != 1 || got[0].Key != "b" {
		t.Fatalf("b: %+v", got)
	}
	if f := c.hold(at(301), condTest("a", event.Warn, 1), nil); f == nil || f.State != "" {
		t.Fatalf("a again: %+v", f)
	}
}
