package sessions

import "time"

// Progress says how far a read of a recording that goes through it in
// several passes (handoff's replay then evidence sweep, extract's three
// reads) has got, for a progress line.
type Progress struct {
	Pass, Passes int // this pass, from 1, of how many
	// Done is how far this pass is through the span it reads, from 0 to 1,
	// by the latest event time it has reached. It never goes down within a
	// pass, though a recording is not in time order (the kernel log's
	// backlog comes after the first samples).
	Done float64
	At   time.Time // the time of the event just read
}

// ProgressTracker returns the function a reader calls with the time of each
// event it reads in pass pass of passes, a read of [from, to] of r (either
// zero, or to later than the recording: its plausible span's bound), which
// calls fn with the Progress. It is called for every event: fn must be
// cheap and rate-limit what it shows. With fn nil it returns nil.
func ProgressTracker(r Recording, fn func(Progress), pass, passes int, from, to time.Time) func(time.Time) {
	if fn == nil {
		return nil
	}
	lo, hi := r.PlausibleSpan()
	if from.Before(lo) {
		from = lo
	}
	if to.IsZero() || to.After(hi) {
		to = hi
	}
	span := float64(to.Sub(from))
	p := Progress{Pass: pass, Passes: passes}
	if span <= 0 {
		p.Done = 1
	}
	return func(t time.Time) {
		if span > 0 {
			if d := min(float64(t.Sub(from))/span, 1); d > p.Done {
				p.Done = d
			}
		}
		p.At = t
		fn(p)
	}
}
