package handoff

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
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

// How a chart folds the samples that fall in one point.
type fold int

const (
	foldMax  fold = iota // a gauge: the highest sample
	foldRate             // a count, shown per second (per minute once a point spans a minute)
)

const (
	maxSeriesTracked = 32 // per chart; later names are not tracked
	maxSeriesShown   = 4  // per chart: the busiest
)

type chartAcc struct {
	title, unit string
	fold        fold
	byChange    bool // rank series by how much they moved, not by peak
	series      map[string][]float64
	order       []string
}

// charts accumulates every probe's series over [from, from+n*step).
type charts struct {
	from   time.Time
	step   time.Duration
	n      int
	byName map[string][]*chartAcc
	order  []string
}

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
	return &charts{from: from, step: step, n: n, byName: map[string][]*chartAcc{}}
}

func (c *charts) index(t time.Time) int {
	return min(max(int(t.Sub(c.from)/c.step), 0), c.n-1)
}

func (c *charts) chart(probe, title, unit string, f fold) *chartAcc {
	for _, a := range c.byName[probe] {
		if a.title == title {
			return a
		}
	}
	if _, ok := c.byName[probe]; !ok {
		c.order = append(c.order, probe)
	}
	a := &chartAcc{title: title, unit: unit, fold: f, series: map[string][]float64{}}
	c.byName[probe] = append(c.byName[probe], a)
	return a
}

// values returns the series' points, or nil once the chart tracks enough.
func (c *charts) values(a *chartAcc, name string) []float64 {
	if v, ok := a.series[name]; ok {
		return v
	}
	if len(a.series) >= maxSeriesTracked {
		return nil
	}
	v := make([]float64, c.n)
	if a.fold == foldMax {
		for i := range v {
			v[i] = math.NaN()
		}
	}
	a.series[name] = v
	a.order = append(a.order, name)
	return v
}

func (c *charts) gauge(a *chartAcc, name string, t time.Time, v float64) {
	if vals := c.values(a, name); vals != nil {
		i := c.index(t)
		if math.IsNaN(vals[i]) || v > vals[i] {
			vals[i] = v
		}
	}
}

func (c *charts) count(a *chartAcc, name string, t time.Time, n float64) {
	if vals := c.values(a, name); vals != nil {
		vals[c.index(t)] += n
	}
}

// observe takes one event of the window.
func (c *charts) observe(ev event.Event) {
	if event.IsControl(ev.Kind) {
		return
	}
	if s, ok := schema.AsIOSample(ev); ok {
		util := c.chart(ev.Probe, "%util by device", "%", foldMax)
		tput := c.chart(ev.Probe, "throughput by device (read + write)", "B/s", foldMax)
		for _, d := range s.Devices {
			if !d.Partition {
				c.gauge(util, d.Device, ev.Time, d.UtilPct)
				c.gauge(tput, d.Device, ev.Time, (d.RKBPerS+d.WKBPerS)*1024)
			}
		}
		return
	}
	if b, ok := packet.AsPacketBatch(ev); ok {
		a := c.chart(ev.Probe, "packets {per} by interface", "packets", foldRate)
		if vals := c.values(a, b.Iface); vals != nil {
			b.Each(func(p packet.Packet) { vals[c.index(p.Time)]++ })
		}
		return
	}
	if u, ok := schema.AsDiskUsage(ev); ok {
		a := c.chart(ev.Probe, "used space by filesystem", "B", foldMax)
		a.byChange = true
		for _, fs := range u.Filesystems {
			if !fs.Stale {
				c.gauge(a, fs.Mount, ev.Time, float64(fs.UsedBytes))
			}
		}
		return
	}
	if _, ok := schema.AsSignal(ev); ok {
		c.count(c.chart(ev.Probe, "signals {per}", "signals", foldRate), "signals", ev.Time, 1)
		return
	}
	if _, ok := schema.AsKmsg(ev); ok {
		c.count(c.chart(ev.Probe, "kernel log lines {per}", "lines", foldRate), "lines", ev.Time, 1)
		return
	}
	if s, ok := schema.AsConntrack(ev); ok {
		a := c.chart(ev.Probe, "tracked connections", "", foldMax)
		c.gauge(a, "count", ev.Time, float64(s.Count))
		c.gauge(a, "max", ev.Time, float64(s.Max))
		return
	}
	switch ev.Probe {
	case "signals", "packets", "diskfill", "iostat", "kmsg", "conntrack":
		return // their other kinds (fork, flow, …) are not charted
	}
	c.count(c.chart(ev.Probe, "events {per}", "events", foldRate), "events", ev.Time, 1)
}

// probes lists the probes with charts, in the order first seen.
func (c *charts) probes() []string { return c.order }

// charts returns a probe's finished charts.
func (c *charts) charts(probe string) []Chart {
	var out []Chart
	for _, a := range c.byName[probe] {
		ch := Chart{Title: a.title, Unit: a.unit, From: c.from, To: c.from.Add(c.step * time.Duration(c.n)), Step: c.step}
		scale := 1.0
		if a.fold == foldRate {
			// A count per point becomes a rate people know: per second for
			// a short recording, per minute for a long one.
			if c.step >= time.Minute {
				scale, ch.Title, ch.Unit = 1/c.step.Minutes(), strings.Replace(a.title, "{per}", "per minute", 1), a.unit+"/min"
			} else {
				scale, ch.Title, ch.Unit = 1/c.step.Seconds(), strings.Replace(a.title, "{per}", "per second", 1), a.unit+"/s"
			}
		}
		for _, name := range a.order {
			vals := a.series[name]
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
			if a.byChange && si.spread() != sj.spread() {
				return si.spread() > sj.spread()
			}
			return si.Peak() > sj.Peak()
		})
		if len(ch.Series) > maxSeriesShown {
			ch.Series = ch.Series[:maxSeriesShown]
		}
		if a.title == "tracked connections" {
			// count first, then max, whatever their peaks
			sort.SliceStable(ch.Series, func(i, j int) bool { return ch.Series[i].Name == "count" })
		}
		out = append(out, ch)
	}
	return out
}
