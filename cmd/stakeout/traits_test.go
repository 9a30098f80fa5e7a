package main

import (
	"slices"
	"testing"
	"time"

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
	if want := []string{"finding", "note", "probe_status", "recording"}; !slices.Equal(control, want) {
		t.Errorf("control kinds %v, want %v", control, want)
	}
	want := []string{"exec", "exit", "finding", "fork", "kmsg", "module_load", "module_unload", "note", "packets", "signal", "storm"}
	if !slices.Equal(occurrence, want) {
		t.Errorf("occurrence kinds %v, want %v", occurrence, want)
	}
	if tr := event.TraitsOf("quantum_flux"); tr != (event.Traits{}) {
		t.Errorf("a kind this build does not know has traits %+v, want none (state, sheddable)", tr)
	}
}

// TestMailboxKeepsEveryControlKind: under back-pressure the mailbox sheds
// every kind but the control ones, the same set the frozen view keeps
// (ui's TestFreezeKeepsEveryControlKind checks that side).
func TestMailboxKeepsEveryControlKind(t *testing.T) {
	for _, kind := range event.Kinds() {
		m := newMailbox(0)
		m.put([]event.Event{{Time: time.Unix(1, 0), Probe: "p", Kind: kind}})
		kept := len(m.take()) == 1
		if kept != event.IsControl(kind) {
			t.Errorf("kind %s: kept %v by the mailbox past its cap, control %v", kind, kept, event.IsControl(kind))
		}
	}
}
