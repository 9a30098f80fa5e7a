package ui

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const (
	diskHistory  = 240 // fill-rate samples kept per filesystem for the sparkline
	diskMaxFS    = 64  // filesystems with a history; the least recently seen is dropped
	diskMountW   = 18  // mount column
	diskBarW     = 10  // used% bar cells
	diskMinSpark = 4   // narrower than this, no sparkline
	// diskFixedW is a row without its sparkline: mark, mount, bar and
	// used%, size, avail, rate and time-to-full.
	diskFixedW = 2 + diskMountW + diskBarW + 6 + 8 + 8 + 11 + 7
)

// diskFillPane shows one row per filesystem (used% bar, fill rate,
// time-to-full, a sparkline of the rate) and, under the table, the focused
// filesystem's top writers, their growing files and deleted files held open.
type diskFillPane struct {
	paneBase
	keys    diskFillKeys
	last    []schema.Filesystem
	samples int
	hist    map[string]*diskHist
	focus   string // mount of the focused filesystem; "" is the first row
	picked  bool   // ↑/↓ picked it: Enter inspects its writers, esc lets it go
}

type diskHist struct {
	rate *ring // Δused/Δt per sample, bytes/s, never negative
	used float64
	at   float64 // seconds: sum of intervals, this pane's own clock
	seen int
}

type diskFillKeys struct{ Up, Down, Inspect, Clear key.Binding }

func init() { registerPane("diskfill", newDiskFillPane) }

func newDiskFillPane(env paneEnv) Pane {
	k := diskFillKeys{
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "diskfill: focus previous filesystem")),
		Down:    key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "diskfill: focus next filesystem")),
		Inspect: inspectRowKey("diskfill: inspect the writers of the filesystem ↑/↓ picked"),
		Clear:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "diskfill: let it go (enter zooms again)")),
	}
	return diskFillPane{paneBase: newPaneBase(env, k.Up, k.Down, k.Inspect, k.Clear), hist: map[string]*diskHist{}, keys: k}
}

func (p diskFillPane) Marks() []paneMark {
	return []paneMark{
		{"▶", "diskfill: the filesystem whose writers are listed under the table (↑/↓)"},
		{"ⁱ", "diskfill: FULL IN is when inodes run out, before space does"},
	}
}

// Reset keeps the focused filesystem.
func (p diskFillPane) Reset() Pane {
	f := newDiskFillPane(p.env).(diskFillPane)
	f.focus, f.picked = p.focus, p.picked
	return f
}

// Claims takes Enter (which zooms the pane otherwise) while a filesystem
// picked with ↑/↓ has processes writing to it or holding its deleted
// files, and esc while one is picked.
func (p diskFillPane) Claims(msg tea.KeyPressMsg) bool {
	switch {
	case key.Matches(msg, p.keys.Inspect):
		return len(p.pickedProcesses()) > 0
	case key.Matches(msg, p.keys.Clear):
		return p.picked
	}
	return false
}
func (p diskFillPane) Editing() bool { return false }

// pickedProcesses are the picked filesystem's writers, then the holders
// of its deleted files; none when no filesystem is picked.
func (p diskFillPane) pickedProcesses() []procRef {
	rows := p.sorted()
	if !p.picked || len(rows) == 0 {
		return nil
	}
	w, h := fsProcesses(rows[p.focusIndex(rows)])
	return append(w, h...)
}

func (p diskFillPane) Update(msg tea.KeyPressMsg) (Pane, tea.Cmd) {
	rows := p.sorted()
	if len(rows) == 0 {
		return p, nil
	}
	i := p.focusIndex(rows)
	switch {
	case key.Matches(msg, p.keys.Up):
		i = max(i-1, 0)
	case key.Matches(msg, p.keys.Down):
		i = min(i+1, len(rows)-1)
	case key.Matches(msg, p.keys.Inspect):
		if refs := p.pickedProcesses(); len(refs) > 0 {
			return p, inspectAsk(refs)
		}
		return p, nil
	case key.Matches(msg, p.keys.Clear):
		p.picked = false
		return p, nil
	default:
		return p, nil
	}
	p.focus, p.picked = rows[i].Mount, true
	return p, nil
}

// Apply keeps the latest sample and extends each filesystem's rate history
// in place, as the iostat pane does.
func (p diskFillPane) Apply(ev event.Event) Pane {
	u, ok := event.As[schema.DiskUsage](ev)
	if !ok {
		return p
	}
	p.samples++
	p.last = append([]schema.Filesystem(nil), u.Filesystems...)
	for _, f := range u.Filesystems {
		h := p.hist[f.Mount]
		if h == nil {
			if len(p.hist) >= diskMaxFS {
				p.evictOldest()
			}
			h = &diskHist{rate: newRing(diskHistory), used: float64(f.UsedBytes)}
			p.hist[f.Mount] = h
		} else if !f.Stale && u.IntervalS > 0 {
			h.rate.push(max(0, (float64(f.UsedBytes)-h.used)/u.IntervalS))
			h.used = float64(f.UsedBytes)
		}
		h.seen = p.samples
	}
	return p
}

func (p diskFillPane) evictOldest() {
	oldest, at := "", p.samples+1
	for m, h := range p.hist {
		if h.seen < at || (h.seen == at && m > oldest) {
			oldest, at = m, h.seen
		}
	}
	delete(p.hist, oldest)
}

// sorted puts filesystems that are filling first, soonest full first; the
// rest keep mountinfo order.
func (p diskFillPane) sorted() []schema.Filesystem {
	rows := append([]schema.Filesystem(nil), p.last...)
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := etaOf(rows[i]), etaOf(rows[j])
		return a < b
	})
	return rows
}

// etaOf is the sooner of the bytes and inodes time-to-full, +Inf if none.
func etaOf(f schema.Filesystem) float64 {
	e := math.Inf(1)
	for _, t := range []schema.Trend{f.Bytes, f.Inodes} {
		if t.EtaS != nil {
			e = min(e, *t.EtaS)
		}
	}
	return e
}

func (p diskFillPane) focusIndex(rows []schema.Filesystem) int {
	for i, r := range rows {
		if r.Mount == p.focus {
			return i
		}
	}
	return 0
}

func (p diskFillPane) View() string {
	st := p.env.st
	if p.samples == 0 {
		return st.Muted.Render("waiting for the first sample…")
	}
	rows := p.sorted()
	if len(rows) == 0 {
		return st.Muted.Render("no filesystem to watch")
	}
	fi := p.focusIndex(rows)
	detail := p.detail(rows[fi])
	if len(p.pickedProcesses()) > 0 {
		detail[0] += st.Muted.Render(" · enter inspect")
	}
	// The table gets what the focused filesystem's detail leaves, at least 3 rows.
	tableRows := clamp(p.h-1-len(detail), min(3, len(rows)), len(rows))
	first := clamp(fi-tableRows+1, 0, max(len(rows)-tableRows, 0))
	sparkW := p.w - diskFixedW - 2
	head := fmt.Sprintf("  %-*s %-*s %7s %7s %9s %7s", diskMountW-1, "MOUNT", diskBarW+6, "USED", "SIZE", "AVAIL", "RATE", "FULL IN")
	if sparkW >= len("fill rate") {
		head += "  fill rate"
	}
	lines := []string{st.TableHeader.Render(clip(head, p.w))}
	for i := first; i < min(first+tableRows, len(rows)); i++ {
		lines = append(lines, p.row(rows[i], i == fi, sparkW))
	}
	if len(lines)+len(detail) < p.h {
		lines = append(lines, "")
	}
	for _, l := range detail {
		if len(lines) >= p.h {
			break
		}
		lines = append(lines, clip(l, p.w))
	}
	return strings.Join(lines, "\n")
}

func (p diskFillPane) row(f schema.Filesystem, focused bool, sparkW int) string {
	st := p.env.st
	mark := "  "
	if focused {
		mark = st.Accent.Render("▶ ")
	}
	pct := schema.UsedPct(f.UsedBytes, f.AvailBytes) // as df's Use%
	filled := clamp(int(pct/100*diskBarW+0.5), 0, diskBarW)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", diskBarW-filled)
	rate, eta := "-", "-"
	switch {
	case f.Stale:
		rate, eta = "stale", "?"
	case f.Bytes.EtaS != nil:
		rate = "+" + shortBytes(uint64(max(event.SatInt64(f.Bytes.RatePerS), 0))) + "/s"
		eta = schema.FormatETA(*f.Bytes.EtaS)
	}
	if f.Inodes.EtaS != nil && (f.Bytes.EtaS == nil || *f.Inodes.EtaS < *f.Bytes.EtaS) {
		eta = schema.FormatETA(*f.Inodes.EtaS) + "ⁱ" // inodes run out first
	}
	etaStyle := st.Text
	if e := etaOf(f); e < 1800 {
		etaStyle = st.Sev(event.Critical)
	} else if e < 6*3600 {
		etaStyle = st.Sev(event.Warn)
	}
	s := mark + fit(event.Sanitize(f.Mount), diskMountW-1) + " " + st.Spark.Render(bar) +
		fmt.Sprintf(" %4.0f%% %7s %7s %9s ", pct, shortBytes(f.SizeBytes), shortBytes(f.AvailBytes), rate) +
		etaStyle.Render(fmt.Sprintf("%7s", eta))
	if h := p.hist[f.Mount]; h != nil && sparkW >= diskMinSpark {
		rows := sparkRows(h.rate.last(sparkW), sparkW, 1, max(h.rate.max(), 1))
		s += "  " + st.Spark.Render(rows[0])
	}
	return s
}

// detail lists the focused filesystem's writers, their growing files and
// its deleted-but-open files.
func (p diskFillPane) detail(f schema.Filesystem) []string {
	st := p.env.st
	title := fmt.Sprintf("%s  %s %s", event.Sanitize(f.Mount), event.Sanitize(f.Device), event.Sanitize(f.FSType))
	if f.InodesTotal > 0 {
		title += fmt.Sprintf(" · inodes %d/%d free", f.InodesFree, f.InodesTotal)
	}
	out := []string{st.Accent.Render(title)}
	if len(f.Writers) == 0 {
		out = append(out, st.Muted.Render("  no process seen writing here"))
	}
	for _, w := range f.Writers {
		out = append(out, fmt.Sprintf("  %-7d %-16s %s/s written", w.PID, fit(event.Sanitize(w.Comm), 16),
			fmtBytes(event.SatInt64(w.WriteBytesPerS))))
		for _, g := range w.Files {
			out = append(out, fmt.Sprintf("    +%s/s  %8s  %s", fmtBytes(event.SatInt64(g.GrowthBytesPerS)),
				shortBytes(uint64(max(g.SizeBytes, 0))), event.Sanitize(g.Path)))
		}
	}
	for _, d := range f.DeletedOpen {
		out = append(out, st.Sev(event.Warn).Render(fmt.Sprintf("  deleted, still open: %s by %s[%d] %s",
			shortBytes(uint64(max(d.SizeBytes, 0))), event.Sanitize(d.Comm), d.PID, event.Sanitize(d.Path))))
	}
	return out
}

// shortBytes is fmtBytes without the space and "iB", for narrow columns.
func shortBytes(n uint64) string {
	s := fmtBytes(int64(min(n, math.MaxInt64)))
	return strings.Replace(strings.TrimSuffix(strings.Replace(s, " ", "", 1), "iB"), "B", "", 1)
}
