package handoff

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
)

// TestGapStillSilentIsOpen: a packet.gap cleared by the end of the capture
// (its flow never came back) is still going on when the window ends; one
// cleared by the flow's next packet is over.
func TestGapStillSilentIsOpen(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	gap := func(at time.Duration, state string, resumed bool) event.Event {
		return event.New(t0.Add(at), "packets", &event.Finding{Finding: findings.FindingPacketGap, Severity: event.Critical,
			Key: "packet.gap eth0 vrrp 10.0.0.1 > 224.0.0.18", State: state,
			Data: map[string]any{"iface": "eth0", "flow": "10.0.0.1 > 224.0.0.18", "gap_ms": 3000.0, "resumed": resumed}})
	}
	for _, tc := range []struct {
		resumed, open bool
	}{{resumed: false, open: true}, {resumed: true, open: false}} {
		c := event.NewCondition(gap(0, "", false))
		if !open(c) {
			t.Errorf("a raised gap is not open")
		}
		c.Add(gap(5*time.Second, event.FindingCleared, tc.resumed))
		if got := open(c); got != tc.open {
			t.Errorf("cleared with resumed=%v: open %v, want %v", tc.resumed, got, tc.open)
		}
	}
}
