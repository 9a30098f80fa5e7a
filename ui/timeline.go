package ui

import (
	"strings"

	"github.com/stakeout/stakeout/event"
)

// Timeline draws one line: start time, a bar filled up to the position with
// the position as ●, each finding as ▲ in its severity's style (where it was
// raised or changed severity: markStops), each note as ◆, and the end time.
// Several findings in one cell show the most severe; a finding hides a note
// in the same cell (n/N still stop at both).
func (r replayCtl) Timeline(w int) string {
	st := r.env.st
	start, end, pos := r.src.Start(), r.src.End(), r.src.Position()
	left := start.In(r.env.loc).Format("15:04:05") + " "
	right := " " + end.In(r.env.loc).Format("15:04:05")
	bw := w - len(left) - len(right)
	if bw < 10 { // no room for labels: the bar alone
		left, right, bw = "", "", w
	}
	if bw <= 0 {
		return ""
	}
	span := end.Sub(start)
	at := func(d float64) int {
		if span <= 0 {
			return 0
		}
		return clamp(int(d/float64(span)*float64(bw-1)+0.5), 0, bw-1)
	}
	cursor := at(float64(pos.Sub(start)))
	marks := make([]int, bw) // severity+1 of the worst finding in each cell
	notes := make([]bool, bw)
	for _, ev := range r.marks {
		c := at(float64(ev.Time.Sub(start)))
		if f, ok := event.As[event.Finding](ev); ok {
			marks[c] = max(marks[c], int(f.Severity)+1)
		} else if ev.Kind == event.KindNote {
			notes[c] = true
		}
	}
	var b strings.Builder
	b.WriteString(st.Muted.Render(left))
	for c := range bw {
		switch {
		case c == cursor:
			b.WriteString(st.BarCursor.Render("●"))
		case marks[c] > 0:
			b.WriteString(st.Sev(event.Severity(marks[c] - 1)).Render("▲"))
		case notes[c]:
			b.WriteString(st.Accent.Render("◆"))
		case c < cursor:
			b.WriteString(st.BarFill.Render("━"))
		default:
			b.WriteString(st.BarEmpty.Render("─"))
		}
	}
	b.WriteString(st.Muted.Render(right))
	return b.String()
}
