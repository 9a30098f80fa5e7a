package ui

import (
	"fmt"
	"strings"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const ctHistory = 240 // samples of fill kept for the trend line

// conntrackPane is a gauge of the conntrack table's fill, its trend, and
// the drops of the last sample and of the session.
type conntrackPane struct {
	paneBase
	last                schema.ConntrackSample
	n                   int
	fill                *ring // count / max per sample
	drops, early, fails uint64
}

func init() { registerPane("conntrack", newConntrackPane) }

func newConntrackPane(env paneEnv) Pane {
	return conntrackPane{paneBase: newPaneBase(env), fill: newRing(ctHistory)}
}

func (p conntrackPane) ContentHeight() int { return 3 }

// Apply pushes into the ring in place, as the iostat pane does.
func (p conntrackPane) Apply(ev event.Event) Pane {
	s, ok := event.As[schema.ConntrackSample](ev)
	if !ok {
		return p
	}
	p.n++
	p.last = *s
	p.fill.push(s.Ratio())
	p.drops = event.AddCount(p.drops, s.Drop)
	p.early = event.AddCount(p.early, s.EarlyDrop)
	p.fails = event.AddCount(p.fails, s.InsertFailed)
	return p
}

func (p conntrackPane) View() string {
	st := p.env.st
	if p.n == 0 {
		return st.Muted.Render("waiting for the first sample…")
	}
	ratio := p.last.Ratio()
	sev := event.Info
	switch {
	case ratio >= 0.95:
		sev = event.Critical
	case ratio >= 0.80:
		sev = event.Warn
	}
	label := fmt.Sprintf(" %3.0f%% %d/%d", ratio*100, p.last.Count, p.last.Max)
	bw := clamp(p.w-len(label)-2, 0, 40)
	filled := clamp(int(ratio*float64(bw)+0.5), 0, bw)
	gauge := "[" + st.Sev(sev).Render(strings.Repeat("█", filled)) + strings.Repeat("░", bw-filled) + "]"
	lines := []string{gauge + st.Sev(sev).Render(label)}

	const trendLabel = "fill "
	sw := p.w - len(trendLabel)
	if sw >= 4 {
		lines = append(lines, st.Muted.Render(trendLabel)+st.Spark.Render(sparkRows(p.fill.last(sw), sw, 1, 1)[0]))
	}
	dropSev := st.Muted
	if p.last.Drop+p.last.EarlyDrop+p.last.InsertFailed > 0 {
		dropSev = st.Sev(event.Critical)
	}
	lines = append(lines, dropSev.Render(clip(fmt.Sprintf("drops now %d, session %d · early_drop %d · insert_failed %d",
		p.last.Drop, p.drops, p.early, p.fails), p.w)))
	return strings.Join(lines, "\n")
}
