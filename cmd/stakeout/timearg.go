package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/stakeout/stakeout/sessions"
)

// timeSpan is what --since, --until and --at are resolved against: when the
// session began (the header's start) and the span of the file's events,
// the kernel log's backlog from before the session included.
type timeSpan struct {
	Session, Start, End time.Time
}

// fileSpan is r's timeSpan. Its ends are the recording's plausible span, so
// one event a bad clock dated years off moves neither "-5m" nor the day a
// time of day falls on.
func fileSpan(r sessions.Recording) timeSpan {
	lo, hi := r.PlausibleSpan()
	return timeSpan{Session: r.Header().Started, Start: lo, End: hi}
}

// parseTimeArg reads --since/--until values relative to a recording:
// RFC 3339 ("2026-11-23T04:00:10Z"), a UTC date and time ("2026-11-23 04:00:10"),
// a UTC time of day ("04:00:10", see onDay), or an offset: "+30s" from the
// start, "-5m" from the end.
func parseTimeArg(s string, sp timeSpan) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if s[0] == '+' || s[0] == '-' {
		d, err := time.ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("bad time %q: offsets look like +30s or -5m", s)
		}
		if s[0] == '+' {
			return sp.Start.Add(d), nil
		}
		return sp.End.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if tod, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return sp.onDay(time.Duration(tod.Hour())*time.Hour + time.Duration(tod.Minute())*time.Minute +
				time.Duration(tod.Second())*time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q: use 04:00:10, 2026-11-23T04:00:10Z, +30s or -5m", s)
}

// onDay puts a UTC time of day on a day: the session's own day if that
// puts it inside the file's span, else the day before or after that puts it
// inside, else the one of the three nearest to the span. So 23:58 is the
// evening before a session that started at 00:05 with a backlog from
// 23:55, and 02:23:00 stays on the day of a session that started at
// 02:23:55.
func (sp timeSpan) onDay(tod time.Duration) time.Time {
	anchor := sp.Session
	if anchor.IsZero() || anchor.Before(sp.Start) || anchor.After(sp.End) {
		anchor = sp.Start
	}
	day := anchor.UTC().Truncate(24 * time.Hour)
	// Times typed have whole seconds; the span's first event may not.
	start := sp.Start.UTC().Truncate(time.Second)
	off := func(t time.Time) time.Duration {
		switch {
		case t.Before(start):
			return start.Sub(t)
		case t.After(sp.End):
			return t.Sub(sp.End)
		}
		return 0
	}
	best := day.Add(tod)
	for _, d := range []int{1, -1} {
		if t := day.Add(time.Duration(d)*24*time.Hour + tod); off(t) < off(best) {
			best = t
		}
	}
	return best
}
