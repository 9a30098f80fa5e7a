package event

import "time"

// Plotter is a body that puts its figures on charts: the handoff report
// draws, for each probe, the charts its events plot, over the report's
// window. A probe none of whose kinds is a Plotter gets a count of its
// events instead. Implement it with a value receiver, as Describer.
type Plotter interface {
	// Plot puts the body's figures, taken at t (the event's time), on the
	// charts of the event's probe.
	Plot(t time.Time, p Plot)
}

// Plot is where a Plotter puts its figures: the charts of one probe.
type Plot interface {
	// Chart returns the probe's chart titled spec.Title, made as spec
	// says the first time it is asked for (so a chart with no series yet
	// is still drawn).
	Chart(spec ChartSpec) Chart
}

// Chart is one chart of a probe.
type Chart interface {
	// Series returns the chart's line of that name, made the first time
	// it is asked for. A chart tracks a bounded number of lines; past it,
	// a new one is a Series that keeps nothing.
	Series(name string) Series
}

// Series is one line of a chart.
type Series interface {
	// Add puts v on the line at t; the chart's Fold says what a point
	// makes of the samples that fall in it.
	Add(t time.Time, v float64)
}

// Fold is how a chart folds the samples that fall in one of its points.
type Fold int

const (
	// FoldGauge keeps a point's highest sample: a level (%util, bytes
	// used, entries tracked).
	FoldGauge Fold = iota
	// FoldCount sums a point's samples and shows them as a rate per
	// second, or per minute once a point spans a minute: occurrences
	// (signals, lines, packets).
	FoldCount
)

// ChartSpec says what a chart is and how it is drawn.
type ChartSpec struct {
	// Title names the chart among its probe's ("%util by device"). In a
	// FoldCount chart, "{per}" becomes "per second" or "per minute".
	Title string
	// Unit is a sample's: "%", "B", "B/s", "packets", or "" for a plain
	// number. A FoldCount chart's unit gets "/s" or "/min".
	Unit string
	Fold Fold
	// ByChange ranks the lines by how much they moved rather than by
	// their peak, so a filesystem filling shows before a fuller steady one.
	ByChange bool
	// First are lines drawn first, in this order, whatever their peaks
	// (a count before its limit).
	First []string
}

// Plots reports whether kind's bodies are Plotters.
func Plots(kind string) bool {
	regMu.RLock()
	info, ok := registry[kind]
	regMu.RUnlock()
	if !ok {
		return false
	}
	_, p := info.newBody().(Plotter)
	return p
}
