package findings

import (
	"reflect"
	"slices"
	"testing"
)

// TestAllKeepsTheDetectorOrder pins the order detectors see each event in
// (and so the order of the findings one event raises) now that each
// detector file registers itself: the detectors that existed before
// self-registration keep their relative order, wherever a new one is
// ranked among them, and registration is sorted by rank.
func TestAllKeepsTheDetectorOrder(t *testing.T) {
	var got []string
	for _, d := range All(Config{}) {
		got = append(got, d.Produces()[0])
	}
	before := []string{"io.saturated", "signal.burst", "packet.gap", "disk.filling", "kernel.segfault",
		"conntrack.pressure", "kernel.module_loaded", "core.dumps_lost"}
	var kept []string
	for _, n := range got {
		if slices.Contains(before, n) {
			kept = append(kept, n)
		}
	}
	if !reflect.DeepEqual(kept, before) {
		t.Errorf("first finding of each detector, in order: %q; the first eight must keep the order %q", got, before)
	}
	if !slices.IsSortedFunc(registered, func(a, b registration) int {
		return a.rank - b.rank
	}) {
		t.Error("detectors are not in rank order")
	}
}
