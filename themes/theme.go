// Package themes maps stakeout's colour roles (severity, accent, muted,
// border, bar fill…) onto lipgloss styles. A Theme's Styles are built once,
// when the theme is made; the UI only reads them.
package themes

import (
	"fmt"
	"image/color"
	"strings"

	"github.com/charmbracelet/colorprofile"
)

// Palette gives a colour to each role. A nil colour means "the terminal's
// default", which is what the mono theme uses everywhere.
type Palette struct {
	Text     color.Color
	Muted    color.Color
	Accent   color.Color
	Border   color.Color
	Info     color.Color
	Warn     color.Color
	Crit     color.Color
	BarFill  color.Color
	BarEmpty color.Color
}

// Theme is a named palette and the styles built from it.
type Theme struct {
	Name    string
	Palette Palette
	// Mono themes carry meaning with bold, reverse and glyphs only, for
	// terminals with no colour and for NO_COLOR users.
	Mono   bool
	Styles Styles
}

// Default is the theme used when nothing else is asked for.
const Default = "dark"

type spec struct {
	name    string
	palette Palette
	mono    bool
}

// specs is in the order Names reports.
var specs = []spec{
	{"dark", darkPalette, false},
	{"light", lightPalette, false},
	{"high-contrast", highContrastPalette, false},
	{"mono", Palette{}, true},
}

// Names lists the themes --theme accepts, default first.
func Names() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.name
	}
	return out
}

// ByName returns the theme called name (case-insensitive; "" is the default).
func ByName(name string) (Theme, error) {
	if name == "" {
		name = Default
	}
	for _, s := range specs {
		if strings.EqualFold(s.name, name) {
			return build(s), nil
		}
	}
	return Theme{}, fmt.Errorf("unknown theme %q (want one of %s)", name, strings.Join(Names(), ", "))
}

// Must is ByName for names known to exist.
func Must(name string) Theme {
	t, err := ByName(name)
	if err != nil {
		panic(err)
	}
	return t
}

// Auto picks the theme for an environment given as os.Environ(): mono when
// NO_COLOR is set to anything non-empty (https://no-color.org) or TERM is
// "dumb", the default otherwise.
func Auto(env []string) Theme {
	if noColor(env) {
		return Must("mono")
	}
	return Must(Default)
}

// Pick is what --theme does: the named theme, or Auto(env) when name is "".
// NO_COLOR wins over an explicit colour theme, as the convention asks.
func Pick(name string, env []string) (Theme, error) {
	if name == "" || noColor(env) {
		if name != "" {
			if _, err := ByName(name); err != nil {
				return Theme{}, err
			}
		}
		return Auto(env), nil
	}
	return ByName(name)
}

// ForProfile downgrades t to mono when the terminal can show no colour, so
// severities stay distinguishable by weight and reverse video instead.
func ForProfile(t Theme, p colorprofile.Profile) Theme {
	if !t.Mono && (p == colorprofile.NoTTY || p == colorprofile.ASCII) {
		return Must("mono")
	}
	return t
}

func noColor(env []string) bool {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if (k == "NO_COLOR" && v != "") || (k == "TERM" && v == "dumb") {
			return true
		}
	}
	return false
}

func build(s spec) Theme {
	return Theme{Name: s.name, Palette: s.palette, Mono: s.mono, Styles: newStyles(s.palette, s.mono)}
}
