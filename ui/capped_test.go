package ui

import (
	"slices"
	"testing"
)

// TestAppendCappedKeepsTheLastN: appendCapped keeps the last n, never
// changes what a slice it handed back earlier holds, and copies the list
// once per n or so appends, not on every append once it is full.
func TestAppendCappedKeepsTheLastN(t *testing.T) {
	const n = 8
	var s []int
	var earlier [][]int
	var want [][]int
	for i := range 100 {
		s = appendCapped(s, i, n)
		lo := max(0, i+1-n)
		var w []int
		for k := lo; k <= i; k++ {
			w = append(w, k)
		}
		if !slices.Equal(s, w) {
			t.Fatalf("after %d: %v, want %v", i, s, w)
		}
		earlier, want = append(earlier, s), append(want, w)
	}
	for i := range earlier {
		if !slices.Equal(earlier[i], want[i]) {
			t.Fatalf("the slice handed back after %d now holds %v, want %v", i, earlier[i], want[i])
		}
	}
	full := s
	allocs := testing.AllocsPerRun(10, func() {
		s := full
		for i := range 10 * n {
			s = appendCapped(s, i, n)
		}
	})
	if allocs > 11 {
		t.Errorf("%v allocations for %d appends to a full list of %d, want about one per %d", allocs, 10*n, n, n)
	}
}
