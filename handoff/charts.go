package handoff

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Chart is one probe's time series over the report's window, already
// downsampled to a fixed number of points.
type Chart struct {
	Title    string // "%util by device"
	Unit     string // "%", "B", "pkt/s", "/min" or ""
	From, To time.Time
	Step     time.Duration // time per point
	// Series are drawn each on its own scale (Series.Scale), so a small
	// filesystem filling shows beside a big steady one.
	Series []Series
}

// Series is one line of a chart. Values holds NaN where nothing was sampled.
type Series struct {
	Name   string
	Values []float64
}

// Peak is the largest value of the series (0 if it has none).
func (s Series) Peak() float64 {
	m := 0.0
	for _, v := range s.Values {
		if !math.IsNaN(v) {
			m = max(m, v)
		}
	}
	return m
}

// Scale is the range the series is drawn on: its own lowest and highest
// value. Steady says it moves by less than a thousandth of its size (or
// not at all), so it is drawn flat rather than its noise stretched to the
// full height. A series with no value is steady at 0.
func (s Series) Scale() (lo, hi float64, steady bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range s.Values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if hi < lo {
		return 0, 0, true
	}
	return lo, hi, hi-lo <= 1e-3*max(math.Abs(lo), math.Abs(hi))
}

func (s Series) spread() float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range s.Values {
		if !math.IsNaN(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if hi < lo {
		return 0
	}
	return hi - lo
}

const (
	maxSeriesTracked = 32 // per chart; later names are not tracked
	maxSeriesShown   = 4  // per chart: the busiest
)

// chartAcc is one chart of a probe while the window is read (event.Chart).
type chartAcc struct {
	c      *charts
	spec   event.ChartSpec
	series map[string]*seriesAcc
	order  []string
}

// seriesAcc is one line of a chart while the window is read (event.Series).
type seriesAcc struct {
	c     *charts
	gauge bool
	vals  []float64
}

// noSeries is a line past maxSeriesTracked: it keeps nothing.
type noSeries struct{}

func (noSeries) Add(time.Time, float64) {}

// probeCharts are one probe's charts (event.Plot).
type probeCharts struct {
	c   *charts
	key probeKey
	// plots says some kind of the probe plots itself (event.Plotter), so
	// its events are not counted: its other kinds (a fork, a flow) are
	// not charted.
	plots bool
}

// charts accumulates every probe's series over [from, from+n*step).
type charts struct {
	from     time.Time
	step     time.Duration
	n        int
	byName   map[probeKey][]*chartAcc
	order    []probeKey
	perProbe map[probeKey]*probeCharts
}

// probeKey is a probe on a host: each host's probe has charts of its own
// (an sda on each of two hosts is two disks).
type probeKey struct{ host, probe string }

func newCharts(from, to time.Time, points int) *charts {
	span := to.Sub(from)
	n := points
	// Never finer than a second a point: a 10 s recording gets 10 points,
	// so per-minute counts are not blown up from a single event.
	if secs := int(math.Ceil(span.Seconds())); secs < n {
		n = max(secs, 1)
	}
	step := span / time.Duration(n)
	if step <= 0 {
		step = time.Second
	}
	return &charts{from: from, step: step, n: n, byName: map[probeKey][]*chartAcc{}, perProbe: map[probeKey]*probeCharts{}}
}

func (c *charts) index(t time.Time) int {
	return min(max(int(t.Sub(c.from)/c.step), 0), c.n-1)
}

// Chart is the probe's chart titled spec.Title, made on first use.
func (p *probeCharts) Chart(spec event.ChartSpec) event.Chart {
	c := p.c
	for _, a := range c.byName[p.key] {
		if a.spec.Title == spec.Title {
			return a
		}
	}
	if _, ok := c.byName[p.key]; !ok {
		c.order = append(c.order, p.key)
	}
	a := &chartAcc{c: c, spec: spec, series: map[string]*seriesAcc{}}
	c.byName[p.key] = append(c.byName[p.key], a)
	return a
}

// Series is the chart's line of that name, made on first use, or one that
// keeps nothing once the chart tracks enough.
func (a *chartAcc) Series(name string) event.Series {
	if s, ok := a.series[name]; ok {
		return s
	}
	if len(a.series) >= maxSeriesTracked {
		return noSeries{}
	}
	s := &seriesAcc{c: a.c, gauge: a.spec.Fold == event.FoldGauge, vals: make([]float64, a.c.n)}
	if s.gauge {
		for i := range s.vals {
			s.vals[i] = math.NaN()
		}
	}
	a.series[name] = s
	a.order = append(a.order, name)
	return s
}

// Add keeps a gauge's highest sample of a point and sums a count's.
func (s *seriesAcc) Add(t time.Time, v float64) {
	i := s.c.index(t)
	if !s.gauge {
		s.vals[i] += v
	} else if math.IsNaN(s.vals[i]) || v > s.vals[i] {
		s.vals[i] = v
	}
}

// eventsChart counts the events of a probe none of whose kinds plots
// itself.
var eventsChart = event.ChartSpec{Title: "events {per}", Unit: "events", Fold: event.FoldCount}

// observe takes one event of the window: its body's own figures
// (event.Plotter), or a count of it if no kind of its probe plots itself.
func (c *charts) observe(ev event.Event) {
	if event.IsControl(ev.Kind) {
		return
	}
	p := c.probe(ev.Host, ev.Probe)
	if pl, ok := event.BodyAs[event.Plotter](ev); ok {
		pl.Plot(ev.Time, p)
		return
	}
	if !p.plots {
		p.Chart(eventsChart).Series("events").Add(ev.Time, 1)
	}
}

// probe returns the charts of a probe on a host, made the first time.
func (c *charts) probe(host, name string) *probeCharts {
	k := probeKey{host, name}
	p, ok := c.perProbe[k]
	if !ok {
		p = &probeCharts{c: c, key: k, plots: plots(name)}
		c.perProbe[k] = p
	}
	return p
}

// plots says whether a kind of the probe (as the catalog lists them) plots
// itself.
func plots(probe string) bool {
	info, ok := schema.LookupProbe(probe)
	return ok && slices.ContainsFunc(info.Kinds, event.Plots)
}

// probes lists the probes with charts, with their hosts, in the order
// first seen.
func (c *charts) probes() []probeKey { return c.order }

// charts returns a probe's finished charts, of the probe on host.
func (c *charts) charts(host, probe string) []Chart {
	var out []Chart
	for _, a := range c.byName[probeKey{host, probe}] {
		spec := a.spec
		ch := Chart{Title: spec.Title, Unit: spec.Unit, From: c.from, To: c.from.Add(c.step * time.Duration(c.n)), Step: c.step}
		scale := 1.0
		if spec.Fold == event.FoldCount {
			// A count per point becomes a rate people know: per second for
			// a short recording, per minute for a long one.
			if c.step >= time.Minute {
				scale, ch.Title, ch.Unit = 1/c.step.Minutes(), strings.Replace(spec.Title, "{per}", "per minute", 1), spec.Unit+"/min"
			} else {
				scale, ch.Title, ch.Unit = 1/c.step.Seconds(), strings.Replace(spec.Title, "{per}", "per second", 1), spec.Unit+"/s"
			}
		}
		for _, name := range a.order {
			vals := a.series[name].vals
			if scale != 1 {
				scaled := make([]float64, len(vals))
				for i, v := range vals {
					scaled[i] = v * scale
				}
				vals = scaled
			}
			ch.Series = append(ch.Series, Series{Name: name, Values: vals})
		}
		sort.SliceStable(ch.Series, func(i, j int) bool {
			si, sj := ch.Series[i], ch.Series[j]
			if spec.ByChange && si.spread() != sj.spread() {
				return si.spread() > sj.spread()
			}
			return si.Peak() > sj.Peak()
		})
		if len(ch.Series) > maxSeriesShown {
			ch.Series = ch.Series[:maxSeriesShown]
		}
		if len(spec.First) > 0 {
			// The spec's first lines lead, in its order, whatever their peaks.
			rank := func(s Series) int {
				if i := slices.Index(spec.First, s.Name); i >= 0 {
					return i
				}
				return len(spec.First)
			}
			sort.SliceStable(ch.Series, func(i, j int) bool { return rank(ch.Series[i]) < rank(ch.Series[j]) })
		}
		out = append(out, ch)
	}
	return out
}
