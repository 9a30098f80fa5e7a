package sessions

import "time"

// SessionStart is when the session began: the header's start, unless it
// is missing or lies outside the recording's plausible span (a header
// written by hand, a clock set after the fact); then the span's start. The
// kernel log's backlog is stamped before it, sometimes hours before: a
// replay opens here, and the backlog is reached by seeking back.
func (r *Reader) SessionStart() time.Time {
	lo, hi := r.PlausibleSpan()
	if s := r.hdr.Started; !s.IsZero() && !s.Before(lo) && !s.After(hi) {
		return s
	}
	return lo
}
