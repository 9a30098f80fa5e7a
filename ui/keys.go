package ui

import "charm.land/bubbles/v2/key"

// rootKeys are the keys that work everywhere, whatever has focus.
type rootKeys struct {
	Help, Close, Freeze, Note, Ack, Group, Quit key.Binding
}

// newRootKeys: replay turns freezing off; canNote turns m on.
func newRootKeys(replay, canNote bool) rootKeys {
	k := rootKeys{
		Help:   key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Close:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close help")),
		Freeze: key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "freeze view")),
		Note:   key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "add a note here")),
		Ack:    key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "acknowledge critical findings (unpin)")),
		Quit:   key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		// g, unless the findings strip has the keys or a finding is
		// open (then g goes to its moment); in a replay g goes to a time.
		Group: key.NewBinding(key.WithKeys("g", "G"), key.WithHelp("g/G", "several hosts: group the panes by host ↔ by probe")),
	}
	if replay {
		k.Group = key.NewBinding(key.WithKeys("G"), key.WithHelp("G", "several hosts: group the panes by host ↔ by probe"))
	}
	k.Group.SetEnabled(false) // until a second host shows up (Model.hostsShown)
	// A replay pauses with space; freezing only makes sense live.
	k.Freeze.SetEnabled(!replay)
	k.Note.SetEnabled(canNote)
	return k
}

// stripKeys focus the findings strip and work it while it has the keys.
type stripKeys struct {
	Focus, Up, Down, Open, Jump, Leave key.Binding
}

func newStripKeys() stripKeys {
	return stripKeys{
		Focus: key.NewBinding(key.WithKeys("0"), key.WithHelp("0", "focus the findings strip")),
		Up:    key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "select a finding")),
		Down:  key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "next finding")),
		Open:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open it: summary, data, evidence")),
		Jump:  newFindingKeys().Jump,
		Leave: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close it, back to the panes")),
	}
}

// inStrip are the keys the focused strip takes.
func (k stripKeys) inStrip() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Open, k.Jump, k.Leave}
}

func (k rootKeys) ShortHelp() []key.Binding { return []key.Binding{k.Help, k.Quit} }
func (k rootKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Help, k.Close, k.Freeze, k.Note, k.Ack, k.Group, k.Quit}}
}

// ShortHelp is the hint on the status line.
func (m Model) ShortHelp() []key.Binding {
	if m.replay != nil {
		return append([]key.Binding{m.replay.keys.Pause}, m.keys.ShortHelp()...)
	}
	return m.keys.ShortHelp()
}
