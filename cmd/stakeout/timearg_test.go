package main

import (
	"testing"
	"time"
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
