package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stakeout/stakeout/findings"
)

func TestDetectorConfigOf(t *testing.T) {
	for raw, want := range map[string]time.Duration{
		``: 0, `not json`: 0, `{"signal_burst_window_ns":-5}`: 0,
		`{"signal_burst_window_ns":1000000000}`: time.Second, `{"other":1}`: 0,
	} {
		if got := findings.ConfigOf(json.RawMessage(raw)).SignalBurstWindow; got != want {
			t.Errorf("ConfigOf(%q) = %v, want %v", raw, got, want)
		}
	}
}
