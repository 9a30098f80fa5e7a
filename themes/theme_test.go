package themes

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/stakeout/stakeout/event"
)

func TestByName(t *testing.T) {
	for _, n := range Names() {
		th, err := ByName(n)
		if err != nil || th.Name != n {
			t.Fatalf("ByName(%q) = %q, %v", n, th.Name, err)
		}
	}
	if th, err := ByName("HIGH-CONTRAST"); err != nil || th.Name != "high-contrast" {
		t.Fatalf("case-insensitive lookup: %q %v", th.Name, err)
	}
	if th, _ := ByName(""); th.Name != Default {
		t.Fatalf("empty name gave %q", th.Name)
	}
	_, err := ByName("solarized")
	if err == nil || !strings.Contains(err.Error(), "dark, light, high-contrast, mono") {
		t.Fatalf("unknown theme error: %v", err)
	}
}

func TestNames(t *testing.T) {
	if got := strings.Join(Names(), ","); got != "dark,light,high-contrast,mono" {
		t.Fatalf("Names() = %s", got)
	}
}

func TestAutoNoColor(t *testing.T) {
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"TERM=xterm-256color"}, "dark"},
		{[]string{"TERM=xterm-256color", "NO_COLOR=1"}, "mono"},
		{[]string{"NO_COLOR=yes please"}, "mono"},
		{[]string{"NO_COLOR="}, "dark"}, // set but empty does not count
		{[]string{"TERM=dumb"}, "mono"},
	}
	for _, c := range cases {
		if got := Auto(c.env).Name; got != c.want {
			t.Errorf("Auto(%v) = %s, want %s", c.env, got, c.want)
		}
	}
}

func TestPick(t *testing.T) {
	if th, _ := Pick("light", nil); th.Name != "light" {
		t.Fatalf("Pick(light) = %s", th.Name)
	}
	if th, _ := Pick("light", []string{"NO_COLOR=1"}); th.Name != "mono" {
		t.Fatalf("NO_COLOR must win, got %s", th.Name)
	}
	if _, err := Pick("nope", []string{"NO_COLOR=1"}); err == nil {
		t.Fatal("a bad --theme is an error even under NO_COLOR")
	}
}

func TestForProfile(t *testing.T) {
	dark := Must("dark")
	if ForProfile(dark, colorprofile.ASCII).Name != "mono" || ForProfile(dark, colorprofile.NoTTY).Name != "mono" {
		t.Fatal("no-colour terminal must get mono")
	}
	if ForProfile(dark, colorprofile.ANSI256).Name != "dark" {
		t.Fatal("colour terminal keeps its theme")
	}
}

func TestMonoHasNoColourButDistinctSeverities(t *testing.T) {
	m := Must("mono")
	if !m.Mono {
		t.Fatal("mono not flagged")
	}
	for _, st := range []lipgloss.Style{m.Styles.Sev(event.Info), m.Styles.Sev(event.Warn), m.Styles.Sev(event.Critical), m.Styles.Accent, m.Styles.BarFill} {
		if _, none := st.GetForeground().(lipgloss.NoColor); !none {
			t.Fatalf("mono style has a colour: %v", st.GetForeground())
		}
	}
	w, c := m.Styles.Sev(event.Warn), m.Styles.Sev(event.Critical)
	if !w.GetBold() || !c.GetReverse() || m.Styles.Sev(event.Info).GetBold() {
		t.Fatal("mono severities must differ by weight and reverse video")
	}
	if m.Styles.Sev(event.Severity(9)).GetReverse() != true {
		t.Fatal("unknown severity should look critical")
	}
}
