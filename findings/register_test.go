package findings

import (
	"reflect"
	"testing"
)

// TestAllKeepsTheDetectorOrder pins the order detectors see each event in
// (and so the order of the findings one event raises) now that each
// detector file registers itself.
func TestAllKeepsTheDetectorOrder(t *testing.T) {
	var got []string
	for _, d := range All(Config{}) {
		got = append(got, d.Produces()[0])
	}
	want := []string{"io.saturated", "signal.burst", "packet.gap", "disk.filling", "kernel.segfault",
		"conntrack.pressure", "kernel.module_loaded", "core.dumps_lost"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("first finding of each detector, in order: %q, want %q", got, want)
	}
}
