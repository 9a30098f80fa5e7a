package themes

import "charm.land/lipgloss/v2"

// Hex colours are downsampled by the renderer on 256- and 16-colour
// terminals; high-contrast sticks to the 16 ANSI colours so it looks the same
// everywhere.

var darkPalette = Palette{
	Text:     lipgloss.Color("#d0d0d0"),
	Muted:    lipgloss.Color("#808080"),
	Accent:   lipgloss.Color("#5fafff"),
	Border:   lipgloss.Color("#585858"),
	Info:     lipgloss.Color("#5fd7ff"),
	Warn:     lipgloss.Color("#ffaf00"),
	Crit:     lipgloss.Color("#ff5f5f"),
	BarFill:  lipgloss.Color("#5fafff"),
	BarEmpty: lipgloss.Color("#444444"),
}

var lightPalette = Palette{
	Text:     lipgloss.Color("#262626"),
	Muted:    lipgloss.Color("#6c6c6c"),
	Accent:   lipgloss.Color("#005fd7"),
	Border:   lipgloss.Color("#a8a8a8"),
	Info:     lipgloss.Color("#0087af"),
	Warn:     lipgloss.Color("#af5f00"),
	Crit:     lipgloss.Color("#d70000"),
	BarFill:  lipgloss.Color("#005fd7"),
	BarEmpty: lipgloss.Color("#c6c6c6"),
}

var highContrastPalette = Palette{
	Text:     lipgloss.Color("15"),
	Muted:    lipgloss.Color("7"),
	Accent:   lipgloss.Color("14"),
	Border:   lipgloss.Color("15"),
	Info:     lipgloss.Color("14"),
	Warn:     lipgloss.Color("11"),
	Crit:     lipgloss.Color("9"),
	BarFill:  lipgloss.Color("15"),
	BarEmpty: lipgloss.Color("8"),
}
