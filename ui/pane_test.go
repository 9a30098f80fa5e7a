package ui

import (
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/schema"
)

// TestEveryPaneRegistersItself: each pane file adds its factory from its
// own init, under the name of a probe in the catalog (a typo would give
// that probe the generic pane).
func TestEveryPaneRegistersItself(t *testing.T) {
	var got []string
	for name := range paneFactories {
		got = append(got, name)
		if !slices.Contains(schema.ProbeNames(), name) {
			t.Errorf("a pane is registered for %q, which is no probe of the catalog %v", name, schema.ProbeNames())
		}
		if _, generic := newPane(name, testEnv()).(genericPane); generic {
			t.Errorf("%s: got the generic pane", name)
		}
	}
	slices.Sort(got)
	// At least these; a new probe's pane registers itself and needs no
	// change here.
	for _, want := range []string{"conntrack", "coredump", "diskfill", "host", "iostat", "kmsg", "modules", "packets", "signals"} {
		if !slices.Contains(got, want) {
			t.Errorf("registered panes %v lack %s", got, want)
		}
	}
}

// TestSeekKeepsPaneSettings: a replay seek empties the panes; a pane with
// settings (the packets pane's sort order) keeps them, the others are
// made anew by their factory.
func TestSeekKeepsPaneSettings(t *testing.T) {
	m := update(packetsModel(100, 30), tea.KeyPressMsg{Code: 'o', Text: "o"})
	m.panes = m.panes.ResetAt(t0)
	m = update(m, EventsMsg(packetsFixture()))
	if s := screen(t, m); !strings.Contains(s, "flows by gap") {
		t.Errorf("the sort order was lost in the seek:\n%s", s)
	}
}

func testEnv() paneEnv {
	o := testOptions().withDefaults()
	st := o.Theme.Styles
	return paneEnv{st: &st, loc: o.Loc}
}
