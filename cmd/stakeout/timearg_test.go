package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// TestTimeOfDayOnTheSessionsDay: a time of day lands on the day that puts
// it inside the file's span (the backlog included), or nearest to it,
// preferring the session's own day.
func TestTimeOfDayOnTheSessionsDay(t *testing.T) {
	d := func(day, h, m, s int) time.Time { return time.Date(2026, 11, day, h, m, s, 0, time.UTC) }
	for _, c := range []struct {
		name string
		sp   timeSpan
		arg  string
		want time.Time
	}{
		// The case that failed: a minute before the first event went to
		// the next day, after the end of the file.
		{"just before the first event", timeSpan{d(23, 2, 23, 55), d(23, 2, 23, 55), d(23, 2, 40, 0)}, "02:23:00", d(23, 2, 23, 0)},
		{"inside", timeSpan{d(23, 2, 23, 55), d(23, 2, 23, 55), d(23, 2, 40, 0)}, "02:30", d(23, 2, 30, 0)},
		{"inside the backlog", timeSpan{d(23, 2, 23, 55), d(23, 2, 13, 55), d(23, 2, 40, 0)}, "02:20:00", d(23, 2, 20, 0)},
		// A session just after midnight whose backlog began the evening before.
		{"backlog the evening before", timeSpan{d(23, 0, 5, 0), d(22, 23, 55, 0), d(23, 0, 30, 0)}, "23:58", d(22, 23, 58, 0)},
		{"before the backlog, that evening", timeSpan{d(23, 0, 5, 0), d(22, 23, 55, 0), d(23, 0, 30, 0)}, "23:50", d(22, 23, 50, 0)},
		{"after midnight", timeSpan{d(23, 0, 5, 0), d(22, 23, 55, 0), d(23, 0, 30, 0)}, "00:10", d(23, 0, 10, 0)},
		// Over two days: the session's day first, the next day for what
		// only it holds.
		{"two days, on both", timeSpan{d(23, 2, 0, 0), d(23, 2, 0, 0), d(24, 5, 0, 0)}, "03:00", d(23, 3, 0, 0)},
		{"two days, on the second only", timeSpan{d(23, 2, 0, 0), d(23, 2, 0, 0), d(24, 5, 0, 0)}, "01:00", d(24, 1, 0, 0)},
		// Fractions of the first event's second do not push 02:23:55 away.
		{"the first second", timeSpan{d(23, 2, 23, 55).Add(300 * time.Millisecond), d(23, 2, 23, 55).Add(300 * time.Millisecond), d(23, 2, 40, 0)}, "02:23:55", d(23, 2, 23, 55)},
		// No start in the header, or one outside the events: the span's start.
		{"no session start", timeSpan{time.Time{}, d(23, 23, 50, 0), d(24, 0, 20, 0)}, "00:10", d(24, 0, 10, 0)},
		{"offsets", timeSpan{d(23, 2, 23, 55), d(23, 2, 13, 55), d(23, 2, 40, 0)}, "+30s", d(23, 2, 14, 25)},
	} {
		got, err := parseTimeArg(c.arg, c.sp)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%s: %s -> %v, %v; want %v", c.name, c.arg, got, err, c.want)
		}
	}
}

// TestExtractSinceBeforeTheFirstEvent: extract --since a minute before the
// session's first event, on a file with a kernel backlog, cuts from there
// (it failed: --since moved to the next day, after the file's end), and a
// year-3000 event moves neither the day nor "-1m".
func TestExtractSinceBeforeTheFirstEvent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.stk")
	started := time.Date(2026, 11, 23, 2, 23, 55, 0, time.UTC)
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7", Started: started, Interval: time.Second}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sample := func(at time.Time) {
		must(w.Write(event.New(at, "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sda", WPerS: 3}}})))
	}
	sample(started)
	must(w.Flush())
	// The backlog: the 30 seconds before the session, written after its
	// first sample.
	for s := 30; s > 0; s -= 10 {
		must(w.Write(event.New(started.Add(-time.Duration(s)*time.Second), "kmsg", &schema.Kmsg{Level: "info", Text: "backlog", Backlog: true})))
	}
	must(w.Flush())
	for s := 1; s <= 300; s++ {
		sample(started.Add(time.Duration(s) * time.Second))
		if s == 5 {
			must(w.Write(event.New(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "kmsg", &schema.Kmsg{Level: "info", Text: "a clock gone wrong"})))
		}
		must(w.Flush())
	}
	must(w.Close())

	out := filepath.Join(dir, "cut.stk")
	r := run(t, nil, "extract", path, "--since", "02:23:00", "--until", "02:24:30", "-o", out)
	if r.code != 0 || !strings.Contains(r.stdout, "39 events from 2026-11-23 02:23:00 to 2026-11-23 02:24:30") {
		t.Fatalf("extract --since 02:23:00: %+v", r)
	}
	if ev := eventLines(t, out, "--kind", "kmsg"); len(ev) != 3 {
		t.Errorf("the cut holds %d of the 3 backlog lines", len(ev))
	}
	r = run(t, nil, "extract", path, "--since", "-1m", "-o", filepath.Join(dir, "last.stk"))
	if r.code != 0 || !strings.Contains(r.stdout, "from 2026-11-23 02:27:55 to 2026-11-23 02:28:55") {
		t.Fatalf("extract --since -1m: %+v", r)
	}
}
