package ui

import "strings"

// ring keeps the last len(buf) samples of one series; memory is fixed.
type ring struct {
	buf  []float64
	next int
	n    int
}

func newRing(size int) *ring { return &ring{buf: make([]float64, size)} }

func (r *ring) push(v float64) {
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// last returns up to k most recent samples, oldest first.
func (r *ring) last(k int) []float64 {
	k = min(k, r.n)
	out := make([]float64, k)
	for i := range k {
		out[i] = r.buf[(r.next-k+i+len(r.buf))%len(r.buf)]
	}
	return out
}

func (r *ring) max() float64 {
	m := 0.0
	for _, v := range r.last(r.n) {
		m = max(m, v)
	}
	return m
}

var sparkLevels = []rune(" ▁▂▃▄▅▆▇█")

// sparkRows draws vals as a bar chart w cells wide and rows lines tall,
// right-aligned so the newest sample is at the right edge. top is the value
// of a full column; any non-zero value shows at least ▁ so activity is seen.
func sparkRows(vals []float64, w, rows int, top float64) []string {
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
