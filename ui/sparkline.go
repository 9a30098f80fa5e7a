package ui

import "github.com/stakeout/stakeout/chart"

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

// sparkRows draws vals as a bar chart w cells wide and rows lines tall (see
// chart.Spark, which the handoff report shares).
func sparkRows(vals []float64, w, rows int, top float64) []string {
	return chart.Spark(vals, w, rows, top)
}
