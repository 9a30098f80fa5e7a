package event

import (
	"testing"
	"time"
)

type retimed struct{ At time.Time }

func (*retimed) EventKind() string        { return "test_retimed" }
func (r *retimed) Retime(d time.Duration) { r.At = r.At.Add(d) }

func TestCorrectClockMovesTheBodysTimesAndNeverStacks(t *testing.T) {
	host := time.Date(2026, 12, 6, 4, 0, 3, 0, time.UTC)
	b := &retimed{At: host.Add(time.Second)}
	ev := Event{Time: host, Kind: "test_retimed", Body: b}
	CorrectClock(&ev, 3*time.Second)
	if !ev.HostTime.Equal(host) || !ev.Time.Equal(host.Add(-3*time.Second)) || !b.At.Equal(host.Add(-2*time.Second)) {
		t.Fatalf("corrected by 3 s: time %v host_time %v body %v", ev.Time, ev.HostTime, b.At)
	}
	// A better estimate a minute on replaces the first; it does not add to it.
	CorrectClock(&ev, 2900*time.Millisecond)
	if !ev.HostTime.Equal(host) || !ev.Time.Equal(host.Add(-2900*time.Millisecond)) || !b.At.Equal(host.Add(100*time.Millisecond-2*time.Second)) {
		t.Fatalf("re-corrected by 2.9 s: time %v host_time %v body %v", ev.Time, ev.HostTime, b.At)
	}
}
