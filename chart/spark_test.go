package chart

import "testing"

func TestSpark(t *testing.T) {
	// Right-aligned, full column at top, any activity at least ▁, zero blank.
	got := Spark([]float64{0, 1, 4, 8}, 6, 1, 8)
	if want := "   ▁▄█"; got[0] != want {
		t.Errorf("one row: %q, want %q", got[0], want)
	}
	two := Spark([]float64{8, 12, 16}, 3, 2, 16)
	if two[0] != " ▄█" || two[1] != "███" {
		t.Errorf("two rows: %q", two)
	}
	if got := Spark([]float64{1, 2, 3}, 2, 1, 3); got[0] != "▅█" {
		t.Errorf("longer than the width keeps the newest: %q", got[0])
	}
	if Spark(nil, 0, 1, 1) != nil {
		t.Error("zero width draws nothing")
	}
}
