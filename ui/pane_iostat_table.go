package ui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// ioCol is one numeric column of the iostat table. Columns of lower
// priority (higher number) are dropped first when the pane is narrow.
type ioCol struct {
	head string
	prio int
	get  func(d schema.DeviceIO) float64
}

var ioCols = []ioCol{
	{"r/s", 8, func(d schema.DeviceIO) float64 { return d.RPerS }},
	{"w/s", 7, func(d schema.DeviceIO) float64 { return d.WPerS }},
	{"rkB/s", 5, func(d schema.DeviceIO) float64 { return d.RKBPerS }},
	{"wkB/s", 4, func(d schema.DeviceIO) float64 { return d.WKBPerS }},
	{"r_await", 3, func(d schema.DeviceIO) float64 { return d.RAwaitMs }},
	{"w_await", 2, func(d schema.DeviceIO) float64 { return d.WAwaitMs }},
	{"aqu-sz", 6, func(d schema.DeviceIO) float64 { return d.AquSz }},
	{"%util", 1, func(d schema.DeviceIO) float64 { return d.UtilPct }},
}

const ioColW = 8 // 7 digits and a space

// table renders a header and up to rows device lines; when devices are cut,
// the last line says how many more there are.
func (p ioStatPane) table(devs []schema.DeviceIO, rows int) []string {
	st := p.env.st
	names := make([]string, len(devs))
	dw := 6
	for i, d := range devs {
		names[i] = event.Sanitize(d.Device)
		dw = max(dw, ansi.StringWidth(names[i])+1)
	}
	dw = min(dw, 16)
	n := clamp((p.w-dw)/ioColW, 0, len(ioCols))
	var cols []ioCol
	for _, c := range ioCols {
		if c.prio <= n {
			cols = append(cols, c)
		}
	}

	var hb strings.Builder
	hb.WriteString(fit("device", dw))
	for _, c := range cols {
		hb.WriteString(fmt.Sprintf("%*s", ioColW, c.head))
	}
	lines := []string{st.TableHeader.Render(hb.String())}
	for i, d := range devs {
		if i == rows-1 && rows > 1 && len(devs) > rows {
			lines = append(lines, st.Muted.Render(fmt.Sprintf("+%d more devices", len(devs)-i)))
			break
		}
		if i >= rows {
			break
		}
		var b strings.Builder
		b.WriteString(fit(names[i], dw))
		for _, c := range cols {
			cellText := fmt.Sprintf("%*s", ioColW, fmtRate(c.get(d)))
			b.WriteString(p.cellStyle(c.head, c.get(d)).Render(cellText))
		}
		lines = append(lines, b.String())
	}
	return lines
}

// cellStyle flags the numbers an on-call engineer should look at first.
func (p ioStatPane) cellStyle(head string, v float64) lipgloss.Style {
	st := p.env.st
	switch {
	case head == "%util" && v >= 90:
		return st.Sev(event.Critical)
	case head == "%util" && v >= 60:
		return st.Sev(event.Warn)
	case (head == "r_await" || head == "w_await") && v >= 100:
		return st.Sev(event.Warn)
	}
	return st.Text
}
