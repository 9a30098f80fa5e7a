// Package chart draws small charts shared by the TUI panes and the handoff
// report: Unicode block sparklines, and the downsampling that keeps a long
// recording's series to a fixed number of points.
package chart

import "strings"

var sparkLevels = []rune(" ▁▂▃▄▅▆▇█")

// Spark draws vals as a bar chart w cells wide and rows lines tall,
// right-aligned so the newest sample is at the right edge. top is the value
// of a full column; any non-zero value shows at least ▁ so activity is seen.
func Spark(vals []float64, w, rows int, top float64) []string {
	if w <= 0 || rows <= 0 {
		return nil
	}
	if len(vals) > w {
		vals = vals[len(vals)-w:]
	}
	pad := w - len(vals)
	steps := rows * 8
	levels := make([]int, len(vals))
	for i, v := range vals {
		if top > 0 && v > 0 {
			levels[i] = clamp(int(v/top*float64(steps)+0.5), 1, steps)
		}
	}
	out := make([]string, rows)
	for r := range rows {
		var b strings.Builder
		b.WriteString(strings.Repeat(" ", pad))
		base := (rows - 1 - r) * 8 // levels below this row
		for _, l := range levels {
			b.WriteRune(sparkLevels[clamp(l-base, 0, 8)])
		}
		out[r] = b.String()
	}
	return out
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// SparkRange draws vals as one row of bars on a scale of their own: lo is
// the lowest bar (▁) and hi the full one (█), so a series that moves a
// little against its size (a disk's used bytes) shows its movement. NaN
// (nothing sampled) is a blank. When hi is not above lo every sampled value
// is a half bar: a steady series.
func SparkRange(vals []float64, lo, hi float64) string {
	var b strings.Builder
	for _, v := range vals {
		switch {
		case v != v: // NaN
			b.WriteRune(' ')
		case !(hi > lo):
			b.WriteRune(sparkLevels[4])
		default:
			l := 1 + int((v-lo)/(hi-lo)*7+0.5)
			b.WriteRune(sparkLevels[clamp(l, 1, 8)])
		}
	}
	return b.String()
}
