package main

import (
	"slices"
	"testing"

	"github.com/stakeout/stakeout/event"
)

// TestKindTraits pins which kinds carry each trait, now declared once where
// the kind is registered instead of in hand-written lists: control kinds
// are never shed on the way to the screen, occurrences are never carried
// into an extract as state. The sets are the ones the lists held.
func TestKindTraits(t *testing.T) {
	var control, occurrence []string
	for _, k := range event.Kinds() {
		tr := event.TraitsOf(k)
		if tr.Control {
			control = append(control, k)
		}
		if tr.Occurrence {
			occurrence = append(occurrence, k)
		}
	}
	if want := []string{"clock", "finding", "host_facts", "note", "probe_status", "recording", "stream.dropped", "stream.pong"}; !slices.Equal(control, want) {
		t.Errorf("control kinds %v, want %v", control, want)
	}
	want := []string{"exec", "exit", "finding", "fork", "kmsg", "module_load", "module_unload", "note", "packets", "process_snapshot", "signal", "storm", "stream.dropped", "stream.pong"}
	if !slices.Equal(occurrence, want) {
		t.Errorf("occurrence kinds %v, want %v", occurrence, want)
	}
	if tr := event.TraitsOf("quantum_flux"); tr.Control || tr.Occurrence || tr.Entity != nil {
		t.Errorf("a kind this build does not know has traits %+v, want none (state, sheddable)", tr)
	}
}
