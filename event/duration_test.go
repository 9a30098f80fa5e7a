package event_test

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// TestDurationFormats pins the two shared formats: the panes' columns and
// the handoff's prose read them, and their goldens with them.
func TestDurationFormats(t *testing.T) {
	for _, c := range []struct {
		d             time.Duration
		short, spoken string
	}{
		{0, "0", "0 ms"},
		{180 * time.Microsecond, "180µs", "0.18 ms"},
		{500 * time.Millisecond, "500ms", "500 ms"},
		{3500 * time.Millisecond, "3.50s", "3.50 s"},
		{7*time.Minute + 8*time.Second, "7m", "7m08s"},
		{2*time.Hour + 5*time.Minute, "2h", "2h05m"},
		{72 * time.Hour, "72h", "3d"},
	} {
		if got := event.ShortDuration(c.d); got != c.short {
			t.Errorf("ShortDuration(%v) = %q, want %q", c.d, got, c.short)
		}
		if got := event.SpokenDuration(c.d); got != c.spoken {
			t.Errorf("SpokenDuration(%v) = %q, want %q", c.d, got, c.spoken)
		}
	}
}
