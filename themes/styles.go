package themes

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
	"github.com/stakeout/stakeout/event"
)

// Styles is every style the UI draws with. Views read it; nothing in a View
// calls lipgloss.NewStyle.
type Styles struct {
	Text   lipgloss.Style
	Muted  lipgloss.Style
	Accent lipgloss.Style

	// Severity is indexed by event.Severity: info, warn, critical. Use Sev.
	Severity [3]lipgloss.Style

	Border        lipgloss.Style // pane borders
	BorderFocused lipgloss.Style
	Title         lipgloss.Style // pane titles, drawn in the top border
	TitleFocused  lipgloss.Style
	TableHeader   lipgloss.Style
	Spark         lipgloss.Style

	Host       lipgloss.Style
	Separator  lipgloss.Style
	RecOn      lipgloss.Style // the ● of REC ●
	RecOff     lipgloss.Style
	RecStopped lipgloss.Style
	Frozen     lipgloss.Style
	Replay     lipgloss.Style
	Error      lipgloss.Style

	BarFill   lipgloss.Style // timeline before the cursor
	BarEmpty  lipgloss.Style // timeline after the cursor
	BarCursor lipgloss.Style

	Prompt   lipgloss.Style // the go-to input's prompt
	Selected lipgloss.Style // the selected line of a list: the findings strip, a timeline pane's row
	Match    lipgloss.Style // a search match in a pane
	Help     help.Styles
}

// Sev returns the style of a severity; unknown severities look like critical.
func (s *Styles) Sev(v event.Severity) lipgloss.Style {
	if v < 0 || int(v) >= len(s.Severity) {
		return s.Severity[event.Critical]
	}
	return s.Severity[v]
}

func newStyles(p Palette, mono bool) Styles {
	fg := func(c color.Color) lipgloss.Style {
		st := lipgloss.NewStyle()
		if c != nil {
			st = st.Foreground(c)
		}
		return st
	}
	var s Styles
	s.Text = fg(p.Text)
	s.Muted = fg(p.Muted)
	s.Accent = fg(p.Accent).Bold(true)
	s.Severity = [3]lipgloss.Style{fg(p.Info), fg(p.Warn).Bold(true), fg(p.Crit).Bold(true)}
	s.Border = fg(p.Border)
	s.BorderFocused = fg(p.Accent)
	s.Title = fg(p.Text)
	s.TitleFocused = fg(p.Accent).Bold(true)
	s.TableHeader = fg(p.Muted).Bold(true)
	s.Spark = fg(p.BarFill)
	s.Host = fg(p.Accent).Bold(true)
	s.Separator = fg(p.Border)
	s.RecOn = fg(p.Crit).Bold(true)
	s.RecOff = fg(p.Muted)
	s.RecStopped = fg(p.Warn).Bold(true)
	s.Frozen = fg(p.Warn).Bold(true).Reverse(true)
	s.Replay = fg(p.Accent).Bold(true)
	s.Error = fg(p.Crit).Bold(true)
	s.BarFill = fg(p.BarFill)
	s.BarEmpty = fg(p.BarEmpty)
	s.BarCursor = fg(p.Accent).Bold(true)
	s.Selected = fg(p.Text).Reverse(true)
	s.Match = fg(p.Warn).Bold(true).Underline(true)
	if mono {
		// No colour: weight and reverse video carry the meaning instead.
		s.Muted = s.Muted.Faint(true)
		s.Severity[event.Critical] = s.Severity[event.Critical].Reverse(true)
		s.TitleFocused = s.TitleFocused.Reverse(true)
		s.BarCursor = s.BarCursor.Reverse(true)
		s.BarEmpty = s.BarEmpty.Faint(true)
	}

	s.Help = help.Styles{
		Ellipsis:       s.Muted,
		ShortKey:       s.Accent,
		ShortDesc:      s.Muted,
		ShortSeparator: s.Separator,
		FullKey:        s.Accent,
		FullDesc:       s.Text,
		FullSeparator:  s.Separator,
	}
	s.Prompt = s.Accent
	return s
}
