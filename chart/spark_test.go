package chart

import (
	"math"
	"testing"
)

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

func TestSparkRange(t *testing.T) {
	nan := math.NaN()
	// 252.0 to 252.4 (units of anything): the lowest is ▁, the highest █,
	// whatever the values' size; NaN is blank.
	if got, want := SparkRange([]float64{252.0, 252.3, nan, 252.4}, 252.0, 252.4), "▁▆ █"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := SparkRange([]float64{5, 5, nan}, 5, 5); got != "▄▄ " {
		t.Errorf("steady: %q", got)
	}
	if got := SparkRange([]float64{-10, 100}, 0, 10); got != "▁█" {
		t.Errorf("outside the range is clamped: %q", got)
	}
}
