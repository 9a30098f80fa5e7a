package schema

import (
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
)

// KindStreamDropped is the record a stream (`stakeout stream`, the other
// end of `--ssh`) writes of the events it dropped while its pipe did not
// take what it sent (ssh stalled, a slow link), once the pipe moves again.
const KindStreamDropped = "stream.dropped"

// StreamDropped counts the events a stream dropped before it wrote them:
// Events in all, between the times of the first and the last (Since,
// Until), by probe. Control events (statuses, pongs) are never dropped.
type StreamDropped struct {
	Events  uint64            `json:"events"`
	Since   time.Time         `json:"since"`
	Until   time.Time         `json:"until"`
	ByProbe map[string]uint64 `json:"by_probe,omitempty"`
}

func (StreamDropped) EventKind() string { return KindStreamDropped }

// Describe says what was lost, and why.
func (d StreamDropped) Describe() string {
	return fmt.Sprintf("the stream dropped %d events from %s to %s: the link to this host did not keep up",
		d.Events, d.Since.UTC().Format("15:04:05.000"), d.Until.UTC().Format("15:04:05.000"))
}

func init() {
	event.Register(KindStreamDropped, func() event.Body { return &StreamDropped{} }, event.Traits{Control: true, Occurrence: true})
}
