package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
)

// fmtRate prints a rate in at most 7 cells, as iostat's columns need.
func fmtRate(v float64) string {
	switch {
	case v < 0:
		return "-"
	case v < 100:
		return fmt.Sprintf("%.2f", v)
	case v < 10000:
		return fmt.Sprintf("%.1f", v)
	case v < 1e7:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1fG", v/1e9)
	}
}

// fmtBytes and fmtDur are the shared byte and column-width duration
// formatters, under the pane code's names.
var (
	fmtBytes = event.HumanBytes
	fmtDur   = event.ShortDuration
)

// fmtKBps prints a kB/s throughput with a unit.
func fmtKBps(kb float64) string {
	return fmtBytes(event.SatInt64(kb*1024)) + "/s"
}

// fit cuts s to at most w cells (ANSI-aware) and pads it with spaces to w.
// It measures s once unless it has to cut it: measuring is grapheme by
// grapheme, and every line of every pane goes through here each frame.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if pad := w - sw; pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// clip cuts s to at most w cells without padding.
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		return ansi.Truncate(s, w, "…")
	}
	return s
}

// block makes exactly h lines of at most w cells from s: extra lines are
// dropped, missing ones are blank.
func block(s string, w, h int) string {
	if h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = clip(l, w)
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// wrap breaks plain text into lines of at most w cells, at most max lines;
// the last kept line ends in … when text was cut.
func wrap(s string, w, max int) []string {
	if w <= 0 || max <= 0 {
		return nil
	}
	lines := strings.Split(ansi.Wrap(s, w, " /:,"), "\n")
	if len(lines) > max {
		lines = lines[:max]
		lines[max-1] = ansi.Truncate(lines[max-1]+" …", w, "…")
	}
	return lines
}

func clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
