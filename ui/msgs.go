package ui

import (
	"time"

	"github.com/stakeout/stakeout/event"
)

// EventsMsg delivers new live events (probe events, findings, probe_status,
// recording) in time order. The engine sends it; the UI never reads probes.
// Once applied, each event goes to Options.Done: the sender must not use
// the events again.
type EventsMsg []event.Event

// RecordingMsg updates the REC indicator. The engine wiring sends one every
// second while a recorder exists.
type RecordingMsg struct {
	File   string
	Bytes  int64
	State  string // "recording", "paused", "stopped" or "off"
	Reason string // why it stopped or paused (disk full, write error…)
	Hint   string // paused: how to record elsewhere
}

// tickMsg drives the replay clock.
type tickMsg struct{ at time.Time }

// replayMoreMsg asks the replay for more of the events a seek or tick left
// pending. gen tells a request from an earlier move, which is dropped.
type replayMoreMsg struct{ gen int }
