package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kinds shared by every probe. Probe-specific kinds live with their probe.
const (
	KindFinding     = "finding"
	KindProbeStatus = "probe_status"
	KindRecording   = "recording"
)

// Severity ranks findings. Its JSON form is "info", "warn" or "critical".
type Severity int

const (
	Info Severity = iota
	Warn
	Critical
)

var severityNames = [...]string{"info", "warn", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts "info", "warn" or "critical".
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if n == s {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want info, warn or critical)", s)
}

func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s *Severity) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return err
	}
	v, err := ParseSeverity(str)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is a culprit a detector (or the recorder) points at.
// JSON: {"finding": "io.saturated", "severity": "warn", "summary": "...", "data": {...}}
type Finding struct {
	Finding  string   `json:"finding"`
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
	// Data is the detector's own struct value, live and read back from a
	// file alike when its type is registered for the finding's name
	// (RegisterFindingData); otherwise, and whenever what the file holds
	// does not fit that type, it reads back as encoding/json's generic
	// value (a map).
	Data any `json:"data"`

	// The fields below make one finding per condition. Key names the
	// condition (the finding name and what it is about: a device, a flow's
	// 5-tuple, a pid, a mount), never a figure that drifts, so a condition
	// that stays true keeps its key. The first event of a condition has an
	// empty State; later ones for the same Key are "update" (new figures or
	// severity while it lasts) or "cleared" (it ended). A condition that
	// clears and comes back is raised again as a new finding.
	Key   string    `json:"key,omitempty"`
	State string    `json:"state,omitempty"`
	Since time.Time `json:"since,omitzero"`  // when the condition was raised; set on updates and clears
	Count int       `json:"count,omitempty"` // times the condition was seen so far (×N), on updates and clears
}

// Finding states: a condition is raised (State ""), then updated, then cleared.
const (
	FindingUpdate  = "update"
	FindingCleared = "cleared"
)

func (Finding) EventKind() string { return KindFinding }

// Probe states reported in ProbeStatus.
const (
	StatusOK          = "ok"
	StatusUnavailable = "unavailable"
	StatusError       = "error"
)

// ProbeStatus says whether a probe runs, and if not, why, in words a person
// understands. The engine records one whenever a probe's status changes.
type ProbeStatus struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func (ProbeStatus) EventKind() string { return KindProbeStatus }

// Unavailable is the error a probe returns when this host can't support
// it: Reason says why, in words a person understands.
type Unavailable struct{ Reason string }

func (u *Unavailable) Error() string { return u.Reason }

// StatusOf turns an error from a probe's Check or Run into the recorded
// status: nil is ok, an *Unavailable is unavailable with its reason, any
// other error is an error.
func StatusOf(err error) ProbeStatus {
	if err == nil {
		return ProbeStatus{Status: StatusOK}
	}
	var u *Unavailable
	if errors.As(err, &u) {
		return ProbeStatus{Status: StatusUnavailable, Reason: u.Reason}
	}
	return ProbeStatus{Status: StatusError, Reason: err.Error()}
}

// Recording reports the recorder's state changes: started, paused, stopped.
type Recording struct {
	State  string `json:"state"` // "recording", "paused", "resumed" or "stopped"
	File   string `json:"file,omitempty"`
	Reason string `json:"reason,omitempty"`
	Hint   string `json:"hint,omitempty"` // paused: how to record elsewhere
	// Resumed: how long the pause lasted and how many events it dropped.
	PausedS       *float64 `json:"paused_s,omitempty"`
	EventsDropped *uint64  `json:"events_dropped,omitempty"`
}

func (Recording) EventKind() string { return KindRecording }

func init() {
	Register(KindFinding, func() Body { return &Finding{} }, Traits{Control: true, Occurrence: true})
	Register(KindProbeStatus, func() Body { return &ProbeStatus{} }, Traits{Control: true})
	Register(KindRecording, func() Body { return &Recording{} }, Traits{Control: true})
}

// As returns the body of type T carried by e, if it carries one: live events
// and decoded ones carry a *T, but a T value is accepted as well. A nil *T
// is no body.
func As[T any](e Event) (*T, bool) {
	switch b := any(e.Body).(type) {
	case *T:
		return b, b != nil
	case T:
		return &b, true
	}
	return nil, false
}
