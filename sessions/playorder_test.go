package sessions

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// played is what a Player delivered over a forward play: each event with
// the positions before and after the call that delivered it.
type played struct {
	ev        event.Event
	prev, pos time.Time
}

// playThrough plays p from its position to its end a second at a time,
// asking for the rest with Continue while a call is Pending.
func playThrough(t *testing.T, p *Player) []played {
	t.Helper()
	var out []played
	prev := time.Time{} // the first call delivers what is at Start too
	add := func(evs []event.Event, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			out = append(out, played{ev, prev, p.Position()})
		}
	}
	for {
		add(p.AdvanceTo(p.Position().Add(time.Second)))
		for p.Pending() {
			add(p.Continue())
		}
		if !p.Position().Before(p.End()) {
			break
		}
		prev = p.Position()
	}
	return out
}

// sameMultiset checks that got and want hold the same events, each as often.
func sameMultiset(t *testing.T, got, want []event.Event) {
	t.Helper()
	count := map[string]int{}
	for _, ev := range want {
		count[jsonOf(t, ev)]++
	}
	for _, ev := range got {
		k := jsonOf(t, ev)
		if count[k] == 0 {
			t.Fatalf("delivered once too often, or never recorded: %.120s", k)
		}
		count[k]--
	}
	for k, n := range count {
		if n > 0 {
			t.Fatalf("%d not delivered: %.120s", n, k)
		}
	}
}

var year3000 = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)

// TestPlayerDeliversByEventTime: played forward, a recording whose file
// order is not its time order (the kernel log's backlog written after the
// first samples, an event stamped in the year 3000 early in the file, a
// late batch in the middle, appended notes) has every event delivered in
// the call whose step reaches its time, whatever the step's decoding
// bound. The year-3000 event neither holds back what follows it in the
// file (it did: every later event waited for the year 3000) nor stretches
// the play to the year 3000; it comes when it is read.
func TestPlayerDeliversByEventTime(t *testing.T) {
	path, all := outOfOrderSession(t)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, step := range []int64{playerStep, 4 << 10} {
		p := NewPlayer(r, 0, nil)
		p.step = step
		if !p.Start().Equal(t0.Add(-6*time.Minute)) || !p.End().Equal(t0.Add(240*time.Second)) {
			t.Fatalf("plays from %v to %v, want the backlog's start to the last sample", p.Start(), p.End())
		}
		got := playThrough(t, p)
		var evs []event.Event
		far := 0
		for _, g := range got {
			evs = append(evs, g.ev)
			if g.ev.Time.Equal(year3000) {
				far++
				continue
			}
			if g.ev.Time.After(g.pos) || (!g.prev.IsZero() && !g.ev.Time.After(g.prev)) {
				t.Fatalf("step %d: %s at %v delivered by the step from %v to %v", step, g.ev.Kind,
					g.ev.Time.Format("15:04:05"), g.prev.Format("15:04:05"), g.pos.Format("15:04:05"))
			}
		}
		if far != 1 {
			t.Fatalf("the year-3000 event came %d times", far)
		}
		sameMultiset(t, evs, all)
	}
}

// TestPlayerSeekFindsLateEvents: a seek returns every event of its history
// window, including a late batch written minutes further on in the file
// and the backlog written after the first samples.
func TestPlayerSeekFindsLateEvents(t *testing.T) {
	path, all := outOfOrderSession(t)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	inWindow := func(from, to time.Time) []event.Event {
		var out []event.Event
		for _, ev := range all {
			if !ev.Time.Before(from) && !ev.Time.After(to) {
				out = append(out, ev)
			}
		}
		return out
	}
	for _, c := range []struct {
		at      time.Time
		history time.Duration
	}{
		{t0.Add(30 * time.Second), 25 * time.Second}, // the late lines 10..30 s
		{t0.Add(-4 * time.Minute), time.Minute},      // the backlog, and a note about it
		{t0.Add(2 * time.Second), 7 * time.Minute},   // both
	} {
		p := NewPlayer(r, c.history, nil)
		p.step = 8 << 10
		evs, err := p.Seek(c.at)
		for err == nil && p.Pending() {
			var more []event.Event
			more, err = p.Continue()
			evs = append(evs, more...)
		}
		if err != nil {
			t.Fatal(err)
		}
		// The year-3000 event is read by every seek (its segment's latest
		// time is after any), and delivered as it is read.
		evs = notFar(t, evs)
		sameMultiset(t, evs, inWindow(c.at.Add(-c.history), c.at))
		// Then on from there, each event when its time comes.
		rest, err := p.AdvanceTo(c.at.Add(30 * time.Second))
		for err == nil && p.Pending() {
			var more []event.Event
			more, err = p.Continue()
			rest = append(rest, more...)
		}
		if err != nil {
			t.Fatal(err)
		}
		rest = notFar(t, rest)
		for _, ev := range rest {
			if !ev.Time.After(c.at) || ev.Time.After(c.at.Add(30*time.Second)) {
				t.Fatalf("after a seek to %v: %s at %v", c.at, ev.Kind, ev.Time)
			}
		}
		sameMultiset(t, rest, inWindow(c.at.Add(time.Nanosecond), c.at.Add(30*time.Second)))
	}
}

// notFar drops the year-3000 event, which may come once.
func notFar(t *testing.T, evs []event.Event) []event.Event {
	t.Helper()
	var out []event.Event
	for _, ev := range evs {
		if !ev.Time.Equal(year3000) {
			out = append(out, ev)
		}
	}
	if len(evs)-len(out) > 1 {
		t.Fatalf("the year-3000 event came %d times", len(evs)-len(out))
	}
	return out
}

// TestPlayerReadAheadIsBounded: with a read-ahead bound far smaller than
// the two minutes between the late batch's time and its place in the file,
// the Player holds no more than the bound, still delivers every event
// once, and counts the late ones and the year-3000 one in OutOfTime.
func TestPlayerReadAheadIsBounded(t *testing.T) {
	path, all := outOfOrderSession(t)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	full := NewPlayer(r, 0, nil)
	playThrough(t, full)
	if full.OutOfTime() != 1 {
		t.Fatalf("unbounded enough: %d events out of time, want the year-3000 one", full.OutOfTime())
	}

	p := NewPlayer(r, 0, nil)
	p.maxAhead = 16 << 10
	var evs []event.Event
	most := int64(0)
	for {
		got, err := p.AdvanceTo(p.Position().Add(time.Second))
		for err == nil && p.Pending() {
			var more []event.Event
			more, err = p.Continue()
			got = append(got, more...)
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, got...)
		most = max(most, p.aheadSz)
		if !p.Position().Before(p.End()) {
			break
		}
	}
	sameMultiset(t, evs, all)
	// Reading stops once the bound is reached: one event past it at most.
	if most > p.maxAhead+4<<10 {
		t.Fatalf("held %d ahead, bound %d", most, p.maxAhead)
	}
	late := p.OutOfTime() - 1
	if late < 5 || late > 30 {
		t.Fatalf("%d late events, want some of the 30 lines of the late batch", late)
	}
	t.Logf("held at most %d ahead; %d late", most, late)
}

// TestPlausibleSpan: the span reaches from the header's start across
// backlog and pauses of hours, not across years.
func TestPlausibleSpan(t *testing.T) {
	seg := func(min, max time.Time) indexEntry {
		return indexEntry{Min: unixNano(min), Max: unixNano(max), Events: 10}
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	epoch := time.Unix(0, 0).UTC()
	for _, c := range []struct {
		name    string
		started time.Time
		segs    []indexEntry
		lo, hi  time.Time
	}{
		{"plain", t0, []indexEntry{seg(at(0), at(60*time.Second)), seg(at(61*time.Second), at(90*time.Second))}, at(0), at(90 * time.Second)},
		{"backlog and a 3-hour pause", t0, []indexEntry{
			seg(at(0), at(time.Second)), seg(at(-10*time.Minute), at(-time.Minute)),
			seg(at(2*time.Second), at(60*time.Second)), seg(at(3*time.Hour), at(3*time.Hour+time.Minute)),
		}, at(-10 * time.Minute), at(3*time.Hour + time.Minute)},
		{"years off both ways", t0, []indexEntry{
			seg(at(0), at(60*time.Second)), seg(epoch, at(100*time.Second)),
			seg(at(101*time.Second), year3000), seg(at(102*time.Second), at(150*time.Second)),
		}, at(0), at(150 * time.Second)},
		{"no start in the header: the median", time.Time{}, []indexEntry{
			seg(epoch, epoch), seg(at(0), at(60*time.Second)), seg(at(61*time.Second), at(120*time.Second)), seg(year3000, year3000),
		}, at(0), at(120 * time.Second)},
		{"a header start years off", at(400 * 24 * time.Hour), []indexEntry{
			seg(at(0), at(60*time.Second)), seg(at(61*time.Second), at(120*time.Second)),
		}, at(0), at(120 * time.Second)},
	} {
		r := &Reader{hdr: Header{Started: c.started}, segs: c.segs}
		r.span()
		lo, hi := r.plausibleSpan(plausibleGap)
		if !lo.Equal(c.lo) || !hi.Equal(c.hi) {
			t.Errorf("%s: %v to %v, want %v to %v", c.name, lo, hi, c.lo, c.hi)
		}
	}
	empty := &Reader{hdr: Header{Started: t0}}
	empty.span()
	if lo, hi := empty.plausibleSpan(plausibleGap); !lo.Equal(t0) || !hi.Equal(t0) {
		t.Errorf("no events: %v to %v", lo, hi)
	}
}
