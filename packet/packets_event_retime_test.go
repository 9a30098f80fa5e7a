package packet

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// A batch's packets are timed from its start, so correcting another host's
// clock must move the start with the event's Time.
func TestCorrectClockMovesEveryPacketOfABatch(t *testing.T) {
	start := time.Date(2026, 12, 6, 4, 0, 3, 0, time.UTC)
	b := &PacketBatch{Iface: "eth0", Start: start, DtUs: []int64{0, 1000}, Flow: []uint32{1, 1}, Flags: ByteNums{0, 0}, Len: []uint32{60, 60}}
	ev := event.New(start, "packets", b)
	event.CorrectClock(&ev, 3*time.Second)
	if want := start.Add(-3 * time.Second); !b.Start.Equal(want) || !ev.Time.Equal(want) {
		t.Fatalf("batch start %v, event time %v, want both %v", b.Start, ev.Time, want)
	}
	st := &CaptureStats{Iface: "eth0", Through: start}
	ev = event.New(start, "packets", st)
	event.CorrectClock(&ev, time.Second)
	if !st.Through.Equal(start.Add(-time.Second)) {
		t.Fatalf("through %v", st.Through)
	}
}
