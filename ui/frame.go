package ui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/stakeout/stakeout/themes"
)

// box draws a w×h frame with title set into its top border and body inside.
// The focused pane gets a heavy border, so focus shows without colour too.
// Every line of the result is exactly w cells wide.
func box(title, body string, w, h int, focused bool, st *themes.Styles) string {
	if w < 4 || h < 2 {
		return block("", w, h)
	}
	b, bs, ts := lipgloss.RoundedBorder(), st.Border, st.Title
	if focused {
		b, bs, ts = lipgloss.ThickBorder(), st.BorderFocused, st.TitleFocused
	}
	inner := w - 2
	var out strings.Builder
	out.Grow((w + 1) * h * 3)

	title = clip(title, inner-3)
	top := b.Top + " " + title + " "
	fill := inner - lipgloss.Width(top)
	out.WriteString(bs.Render(b.TopLeft + b.Top))
	out.WriteString(ts.Render(" " + title + " "))
	out.WriteString(bs.Render(strings.Repeat(b.Top, max(fill, 0)) + b.TopRight))

	// The sides are rendered once, not twice a line: lipgloss's Render is
	// most of what a frame costs to draw. Each body line is measured once
	// (fit), not clipped by block and then measured again.
	left, right := bs.Render(b.Left), bs.Render(b.Right)
	lines := strings.SplitN(body, "\n", max(h-1, 1))
	for i := range max(h-2, 0) {
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		out.WriteByte('\n')
		out.WriteString(left)
		out.WriteString(fit(l, inner))
		out.WriteString(right)
	}
	out.WriteByte('\n')
	out.WriteString(bs.Render(b.BottomLeft + strings.Repeat(b.Bottom, inner) + b.BottomRight))
	return out.String()
}
