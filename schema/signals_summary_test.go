package schema

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// A signal host mode saw sent and ptrace saw delivered (a process attached
// from the pane) is counted once in the summary.
func TestSignalSummaryCountsDuplicatesOnce(t *testing.T) {
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	var s SignalSummary
	s.Observe(event.New(at, ProbeSignals, &Signal{PID: 812, Comm: "gimli", Signal: "SIGHUP", Source: "tracefs"}))
	s.Observe(event.New(at, ProbeSignals, &Signal{PID: 812, Comm: "gimli", Signal: "SIGHUP", Source: SourcePtrace}))
	rows := s.Rows()
	if len(rows) != 1 || rows[0].Signals["SIGHUP"] != 1 {
		t.Errorf("summary %+v, want SIGHUP×1", rows)
	}
}
