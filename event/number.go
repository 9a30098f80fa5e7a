package event

import (
	"math"
	"strconv"
)

// HumanNumber prints a measured value (a percentage, milliseconds, a queue
// depth) with about three significant digits: 42, 99.8, 0.25, 1235. A
// whole number under a million is printed whole; NaN and infinities are
// "—".
func HumanNumber(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
