package event

import "time"

// Retimer is a body that holds times of its own on the clock of the host
// that saw it (a packet batch's start, from which every packet's time is
// counted): Retime moves each of them by d, as a clock correction moves
// the event's Time. A body without such times need not implement it.
type Retimer interface {
	Retime(d time.Duration)
}

// CorrectClock puts an event from a host whose clock reads offset ahead of
// the local one on the local timeline: Time and the body's own times
// (Retimer) move back by offset, and HostTime keeps the host's reading.
// An event already corrected keeps its HostTime: the correction applies
// to the host's reading, not on top of an earlier one.
func CorrectClock(ev *Event, offset time.Duration) {
	if ev.HostTime.IsZero() {
		ev.HostTime = ev.Time
	} else {
		// Undo the earlier correction first, so corrections never stack.
		if r, ok := ev.Body.(Retimer); ok {
			r.Retime(ev.HostTime.Sub(ev.Time))
		}
	}
	ev.Time = ev.HostTime.Add(-offset)
	if r, ok := ev.Body.(Retimer); ok {
		r.Retime(-offset)
	}
}
