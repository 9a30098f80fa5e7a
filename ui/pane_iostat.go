package ui

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const (
	ioHistory    = 240 // samples kept per device: a wide pane's sparkline
	ioMaxDevices = 64  // devices tracked; the least recently busy is dropped
	ioSparkLabel = 16  // cells left of each sparkline
	ioMaxSparkH  = 8   // lines per sparkline when there is room
	ioBothFrom   = 110 // pane width from which %util and kB/s are drawn side by side
)

// ioStatPane shows the latest `iostat -x` table and a sparkline per busy device.
type ioStatPane struct {
	paneBase
	keys    ioStatKeys
	last    []schema.DeviceIO
	samples int
	hist    map[string]*ioHist
	tput    bool // sparklines show r+w kB/s instead of %util
}

type ioHist struct {
	util, tput *ring
	seen       int // sample number when last non-idle
}

type ioStatKeys struct{ Metric key.Binding }

func init() { registerPane("iostat", newIOStatPane) }

func newIOStatPane(env paneEnv) Pane {
	k := ioStatKeys{Metric: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "iostat: %util ↔ kB/s history"))}
	return ioStatPane{paneBase: newPaneBase(env, k.Metric), keys: k, hist: map[string]*ioHist{}}
}

// Reset keeps the metric the history shows.
func (p ioStatPane) Reset() Pane {
	fresh := newIOStatPane(p.env).(ioStatPane)
	fresh.tput = p.tput
	return fresh
}

func (p ioStatPane) Update(msg tea.KeyPressMsg) (Pane, tea.Cmd) {
	if key.Matches(msg, p.keys.Metric) {
		p.tput = !p.tput
	}
	return p, nil
}

func (p ioStatPane) Apply(ev event.Event) Pane {
	var s *schema.IOSample
	switch b := ev.Body.(type) {
	case *schema.IOSample:
		s = b
	case schema.IOSample:
		s = &b
	default:
		return p
	}
	p.samples++
	p.last = append([]schema.DeviceIO(nil), s.Devices...)
	busy := map[string]bool{}
	for _, d := range s.Devices {
		h := p.hist[d.Device]
		if h == nil {
			if len(p.hist) >= ioMaxDevices {
				p.evictOldest()
			}
			h = &ioHist{util: newRing(ioHistory), tput: newRing(ioHistory)}
			p.hist[d.Device] = h
		}
		h.util.push(d.UtilPct)
		h.tput.push(d.RKBPerS + d.WKBPerS)
		h.seen = p.samples
		busy[d.Device] = true
	}
	for name, h := range p.hist { // idle devices are left out of samples
		if !busy[name] {
			h.util.push(0)
			h.tput.push(0)
		}
	}
	return p
}

func (p ioStatPane) evictOldest() {
	oldest, at := "", p.samples+1
	for name, h := range p.hist {
		if h.seen < at || (h.seen == at && name > oldest) {
			oldest, at = name, h.seen
		}
	}
	delete(p.hist, oldest)
}

func (p ioStatPane) View() string {
	st := p.env.st
	if p.samples == 0 {
		return st.Muted.Render("waiting for the first sample…")
	}
	devs := append([]schema.DeviceIO(nil), p.last...)
	sort.SliceStable(devs, func(i, j int) bool {
		if devs[i].UtilPct != devs[j].UtilPct {
			return devs[i].UtilPct > devs[j].UtilPct
		}
		return devs[i].Device < devs[j].Device
	})
	busy := p.busyDevices()

	rows := min(len(devs), p.h-1)
	if len(busy) > 0 {
		rows = min(rows, max(1, (p.h-1)*2/3))
	}
	var lines []string
	switch {
	case len(devs) == 0 && len(p.hist) == 0:
		lines = append(lines, st.Muted.Render(clip("no device has done I/O yet; idle ones are hidden (--all-devices shows them)", p.w)))
	case len(devs) == 0:
		lines = append(lines, st.Muted.Render(clip("all devices idle this interval (no I/O in flight); --all-devices lists them", p.w)))
	default:
		lines = append(lines, p.table(devs, rows)...)
	}
	if room := p.h - len(lines); room >= 2 && len(busy) > 0 {
		if p.w >= ioBothFrom {
			lw := (p.w - 3) / 2
			left, right := p.sparks(busy, room, lw, false), p.sparks(busy, room, p.w-3-lw, true)
			for i := range min(len(left), len(right)) {
				lines = append(lines, fit(left[i], lw)+st.Separator.Render(" │ ")+right[i])
			}
		} else {
			lines = append(lines, p.sparks(busy, room, p.w, p.tput)...)
		}
	}
	return strings.Join(lines, "\n")
}

// busyDevices are those with any activity in the kept history, busiest now first.
func (p ioStatPane) busyDevices() []string {
	var out []string
	now := map[string]float64{}
	for name, h := range p.hist {
		if h.tput.max() > 0 || h.util.max() > 0 {
			out = append(out, name)
			now[name] = h.util.last(1)[0]
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if now[out[i]] != now[out[j]] {
			return now[out[i]] > now[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

// sparks draws the history caption and one sparkline per device, as many as
// fit in room lines of width w; tput picks r+w kB/s over %util.
func (p ioStatPane) sparks(names []string, room, w int, tput bool) []string {
	st := p.env.st
	caption := "%util history, newest right · s: kB/s"
	if tput {
		caption = "r+w kB/s history, newest right · s: %util"
	}
	if p.w >= ioBothFrom {
		caption = caption[:strings.Index(caption, " ·")]
	}
	lines := []string{st.Muted.Render(clip(caption, w))}
	room--
	per := clamp(room/max(len(names), 1), 1, ioMaxSparkH)
	sw := w - ioSparkLabel
	for _, name := range names {
		if room < per || sw < 4 {
			break
		}
		h := p.hist[name]
		series, top, now := h.util, 100.0, fmt.Sprintf("%.1f%%", h.util.last(1)[0])
		if tput {
			series, top, now = h.tput, max(h.tput.max(), 1), fmtKBps(h.tput.last(1)[0])
		}
		label := []string{event.Sanitize(name), now}
		if per == 1 {
			label = []string{event.Sanitize(name) + " " + now}
		}
		for i, bar := range sparkRows(series.last(sw), sw, per, top) {
			l := ""
			if i < len(label) {
				l = label[i]
			}
			lines = append(lines, fit(l, ioSparkLabel-1)+" "+st.Spark.Render(bar))
		}
		room -= per
	}
	return lines
}
