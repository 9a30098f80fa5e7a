package schema

// The charts each kind puts its figures on (event.Plotter), as the handoff
// report draws them. A probe's other kinds are not charted.

import (
	"time"

	"github.com/stakeout/stakeout/event"
)

var (
	ioUtilChart       = event.ChartSpec{Title: "%util by device", Unit: "%", Fold: event.FoldGauge}
	ioThroughputChart = event.ChartSpec{Title: "throughput by device (read + write)", Unit: "B/s", Fold: event.FoldGauge}
	// A filesystem filling matters more than a fuller one that stays put.
	diskUsedChart  = event.ChartSpec{Title: "used space by filesystem", Unit: "B", Fold: event.FoldGauge, ByChange: true}
	signalsChart   = event.ChartSpec{Title: "signals {per}", Unit: "signals", Fold: event.FoldCount}
	kmsgChart      = event.ChartSpec{Title: "kernel log lines {per}", Unit: "lines", Fold: event.FoldCount}
	conntrackChart = event.ChartSpec{Title: "tracked connections", Fold: event.FoldGauge, First: []string{"count", "max"}}
)

// Plot charts each whole disk's %util and throughput; partitions would
// count their disk's work twice.
func (s IOSample) Plot(t time.Time, p event.Plot) {
	util, tput := p.Chart(ioUtilChart), p.Chart(ioThroughputChart)
	for _, d := range s.Devices {
		if !d.Partition {
			util.Series(d.Device).Add(t, d.UtilPct)
			tput.Series(d.Device).Add(t, (d.RKBPerS+d.WKBPerS)*1024)
		}
	}
}

// Plot charts each filesystem's used bytes, leaving out a sample statfs
// did not answer.
func (u DiskUsage) Plot(t time.Time, p event.Plot) {
	c := p.Chart(diskUsedChart)
	for _, fs := range u.Filesystems {
		if !fs.Stale {
			c.Series(fs.Mount).Add(t, float64(fs.UsedBytes))
		}
	}
}

func (Signal) Plot(t time.Time, p event.Plot) { p.Chart(signalsChart).Series("signals").Add(t, 1) }

func (Kmsg) Plot(t time.Time, p event.Plot) { p.Chart(kmsgChart).Series("lines").Add(t, 1) }

func (c ConntrackSample) Plot(t time.Time, p event.Plot) {
	ch := p.Chart(conntrackChart)
	ch.Series("count").Add(t, float64(c.Count))
	ch.Series("max").Add(t, float64(c.Max))
}
