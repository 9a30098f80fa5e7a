package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

func press(s string) tea.KeyPressMsg {
	switch s {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+u":
		return tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func typeKeys(m Model, keys ...string) Model {
	for _, k := range keys {
		m = update(m, press(k))
	}
	return m
}

func TestSanitizedInView(t *testing.T) {
	evil := []event.Event{
		event.New(t0, "iostat", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(t0.Add(time.Second), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{
			{Device: "x\x1b]0;p\x07", UtilPct: 50, WKBPerS: 10},
		}}),
		event.New(t0.Add(time.Second), "iostat", &event.Finding{Finding: "io.saturated", Severity: event.Warn,
			Summary: "disk \x1b[2Jgone"}),
		event.New(t0, "modules", &event.ProbeStatus{Status: event.StatusError, Reason: "bad\x1b[31mred"}),
	}
	o := testOptions()
	o.Host = "host\x1b[H"
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30}, EventsMsg(evil),
		RecordingMsg{File: "/tmp/x\x1b[1m.stk", State: "recording", Bytes: 10})
	raw := m.View().Content
	for _, bad := range []string{"\x1b]0;p", "\x1b[2J", "\x1b[31mred", "\x1b[H", "\x1b[1m.stk", "\x07"} {
		if strings.Contains(raw, bad) {
			t.Errorf("raw escape %q reached the terminal", bad)
		}
	}
	s := screen(t, m)
	for _, want := range []string{`x\x1b]0;p\x07`, `disk \x1b[2Jgone`, `bad\x1b[31mred`, `host\x1b[H`, `x\x1b[1m.stk`} {
		if !strings.Contains(s, want) {
			t.Errorf("view lacks escaped %q:\n%s", want, s)
		}
	}
}

func TestTooSmall(t *testing.T) {
	m := liveFixture(39, 10)
	want := "terminal too small: need at least 40×10, have 39×10"
	if got := screen(t, m); strings.Join(strings.Fields(got), " ") != want {
		t.Fatalf("got %q", got)
	}
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 9})
	if got := screen(t, m); got != "terminal too small: need at least 40×10, have 80×9" {
		t.Fatalf("got %q", got)
	}
	m = update(m, tea.WindowSizeMsg{Width: 20, Height: 5})
	if got := screen(t, m); !strings.HasPrefix(got, "terminal too") {
		t.Fatalf("narrow too-small message %q", got)
	}
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if got := screen(t, m); !strings.Contains(got, "1 iostat") || strings.Contains(got, "too small") {
		t.Fatalf("did not recover after resize:\n%s", got)
	}
}

func TestFocusCycling(t *testing.T) {
	m := liveFixture(80, 24)
	steps := []struct {
		key  string
		want int
	}{{"tab", 1}, {"tab", 0}, {"shift+tab", 1}, {"shift+tab", 0}, {"2", 1}, {"1", 0}, {"9", 0}}
	for _, s := range steps {
		m = typeKeys(m, s.key)
		if m.panes.Focused() != s.want {
			t.Fatalf("after %s focus = %d, want %d", s.key, m.panes.Focused(), s.want)
		}
	}
	m = typeKeys(m, "2")
	if !strings.Contains(screen(t, m), "┏━ 2 modules") {
		t.Fatal("focused pane should have the heavy border")
	}
	m = typeKeys(m, "1", "enter")
	s := screen(t, m)
	if !m.panes.Zoomed() || strings.Contains(s, "modules") || !strings.Contains(s, "1 iostat · ok · zoomed") {
		t.Fatalf("zoom should show only the focused pane:\n%s", s)
	}
	m = typeKeys(m, "enter")
	if m.panes.Zoomed() || !strings.Contains(screen(t, m), "2 modules") {
		t.Fatal("enter again should unzoom")
	}
}

func TestFreeze(t *testing.T) {
	m := liveFixture(80, 24)
	m = typeKeys(m, "p")
	late := fixtureFinding(t0.Add(30*time.Second), event.Critical, "late finding")
	m = update(m, EventsMsg{late}, RecordingMsg{File: "/var/tmp/db-7-0400.stk", Bytes: 5 << 20, State: "recording"})
	s := screen(t, m)
	if strings.Contains(s, "late finding") || !strings.Contains(s, "FROZEN +1") || !strings.Contains(s, "04:00:20") {
		t.Fatalf("frozen view changed or lacks FROZEN:\n%s", s)
	}
	if !strings.Contains(s, "5.0 MiB") {
		t.Fatal("the REC indicator keeps updating while frozen")
	}
	m = typeKeys(m, "p")
	s = screen(t, m)
	if !strings.Contains(s, "late finding") || strings.Contains(s, "FROZEN") || !strings.Contains(s, "04:00:30") {
		t.Fatalf("thaw should apply held events:\n%s", s)
	}
}

func TestFreezeIsBounded(t *testing.T) {
	var f freezer
	f, _ = f.Toggle()
	sample := event.New(t0, "iostat", &schema.IOSample{})
	keep := fixtureFinding(t0, event.Warn, "keep me")
	f, _ = f.Hold([]event.Event{keep})
	gone := 0
	for range maxHeld / 100 * 3 {
		batch := make([]event.Event, 100)
		for i := range batch {
			batch[i] = sample
		}
		var dropped []event.Event
		f, dropped = f.Hold(batch)
		gone += len(dropped)
	}
	if len(f.held) > maxHeld || f.dropped == 0 || f.held[0].Kind != event.KindFinding {
		t.Fatalf("held %d, dropped %d, first %s", len(f.held), f.dropped, f.held[0].Kind)
	}
	if gone != f.dropped {
		t.Fatalf("Hold returned %d dropped events, counted %d", gone, f.dropped)
	}
	if !strings.Contains(f.Label(), "dropped") {
		t.Fatalf("label %q", f.Label())
	}
}

func TestRecordingIndicator(t *testing.T) {
	m := update(NewLive(testOptions()), tea.WindowSizeMsg{Width: 100, Height: 24})
	if !strings.Contains(screen(t, m), "REC off") {
		t.Fatal("no recorder: REC off")
	}
	m = update(m, EventsMsg{event.New(t0, "", &event.Recording{State: "stopped", Reason: "disk full"})})
	if !strings.Contains(screen(t, m), "REC stopped: disk full") {
		t.Fatalf("stopped:\n%s", screen(t, m))
	}
	m = update(m, RecordingMsg{File: "/x/s.stk", Bytes: 1536, State: "recording"})
	if !strings.Contains(screen(t, m), "REC ● s.stk 1.5 KiB") {
		t.Fatalf("recording:\n%s", screen(t, m))
	}
}

func TestUnknownProbeGetsGenericPane(t *testing.T) {
	m := liveFixture(100, 30)
	raw := `{"time":"2026-11-23T04:00:21Z","probe":"tcp","kind":"quantum_flux","level":9}`
	var ev event.Event
	if err := ev.UnmarshalJSON([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	m = update(m, EventsMsg{ev, ev})
	s := screen(t, m)
	for _, want := range []string{"3 tcp · waiting", "2 events · last quantum_flux at 04:00:21", `"level":9`} {
		if !strings.Contains(s, want) {
			t.Fatalf("generic pane lacks %q:\n%s", want, s)
		}
	}
}

func TestNoColourTerminalGetsMono(t *testing.T) {
	m := update(liveFixture(80, 24), tea.ColorProfileMsg{Profile: colorprofile.ASCII})
	if m.opts.Theme.Name != "mono" || !m.strip.env.st.Sev(event.Critical).GetReverse() {
		t.Fatalf("theme %s after ASCII profile", m.opts.Theme.Name)
	}
	if !m.env.st.Sev(event.Critical).GetReverse() {
		t.Fatal("components must see the new styles")
	}
}

func TestIOStatMetricKeyAndBoundedHistory(t *testing.T) {
	m := liveFixture(80, 24)
	m = typeKeys(m, "s")
	if !strings.Contains(screen(t, m), "r+w kB/s history") {
		t.Fatal("s should switch the iostat sparkline to kB/s")
	}
	p := newIOStatPane(paneEnv{st: m.env.st, loc: time.UTC})
	for i := range ioMaxDevices + 10 {
		p = p.Apply(event.New(t0, "iostat", &schema.IOSample{Devices: []schema.DeviceIO{{Device: "d" + string(rune('A'+i%60)) + string(rune('a'+i/60)), UtilPct: 1}}}))
	}
	for range ioHistory * 2 {
		p = p.Apply(event.New(t0, "iostat", &schema.IOSample{Devices: []schema.DeviceIO{{Device: "sda", UtilPct: 1}}}))
	}
	ip := p.(ioStatPane)
	if len(ip.hist) > ioMaxDevices || ip.hist["sda"].util.n != ioHistory {
		t.Fatalf("devices %d, sda samples %d", len(ip.hist), ip.hist["sda"].util.n)
	}
}

// TestDoneOncePerLiveEvent: every live event goes to Options.Done exactly
// once, after the UI applied it: at once when the view is live, on thaw
// when it was frozen, or when the freezer dropped it for room.
func TestDoneOncePerLiveEvent(t *testing.T) {
	seen := map[int]int{} // by the sample's second
	o := testOptions()
	o.Done = func(ev event.Event) { seen[int(ev.Time.Sub(t0)/time.Second)]++ }
	m := update(NewLive(o), tea.WindowSizeMsg{Width: 100, Height: 30})
	sample := func(i int) event.Event {
		return event.New(t0.Add(time.Duration(i)*time.Second), "iostat", &schema.IOSample{})
	}
	m = update(m, EventsMsg{sample(1), sample(2)})
	if seen[1] != 1 || seen[2] != 1 {
		t.Fatalf("live: done %v", seen)
	}
	m = typeKeys(m, "p") // freeze
	m = update(m, EventsMsg{sample(3)})
	if seen[3] != 0 {
		t.Fatal("a held event was done before it was applied")
	}
	m = typeKeys(m, "p") // thaw
	if seen[3] != 1 {
		t.Fatalf("thawed: done %v", seen)
	}
	// Frozen past the bound: the dropped samples are done at once, the
	// rest on thaw, each once.
	m = typeKeys(m, "p")
	total := 0
	for range maxHeld/1000 + 2 {
		batch := make([]event.Event, 1000)
		for i := range batch {
			batch[i] = sample(4)
		}
		m = update(m, EventsMsg(batch))
		total += len(batch)
	}
	if seen[4] == 0 {
		t.Fatal("dropped samples were not done")
	}
	m = typeKeys(m, "p")
	if seen[4] != total {
		t.Fatalf("done %d of %d frozen samples", seen[4], total)
	}
}
