package main

import (
	"fmt"
	"strings"
	"time"
)

// parseTimeArg reads --since/--until values relative to a recording:
// RFC 3339 ("2026-11-23T04:00:10Z"), a UTC date and time ("2026-11-23 04:00:10"),
// a UTC time of day ("04:00:10", on the recording's first day, or the next day
// if that is before the recording starts), or an offset: "+30s" from the start,
// "-5m" from the end.
func parseTimeArg(s string, start, end time.Time) (time.Time, error) {
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
			return start.Add(d), nil
		}
		return end.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if tod, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			day := start.UTC().Truncate(24 * time.Hour)
			t := day.Add(time.Duration(tod.Hour())*time.Hour + time.Duration(tod.Minute())*time.Minute +
				time.Duration(tod.Second())*time.Second)
			if t.Before(start.UTC().Truncate(time.Second)) {
				t = t.Add(24 * time.Hour)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q: use 04:00:10, 2026-11-23T04:00:10Z, +30s or -5m", s)
}
