package ui

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// writeSaturatedSession records 30 s of iostat samples in which sdb is
// saturated from 04:00:10 to 04:00:22, through the real session writer. It
// holds no findings: the replay must get them from today's detectors.
func writeSaturatedSession(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db-7.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7.prod", Kernel: "6.18.0", Started: t0,
		Interval: time.Second}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Write(event.New(t0, "iostat", &event.ProbeStatus{Status: event.StatusOK})))
	for s := 1; s <= 30; s++ {
		sdb := schema.DeviceIO{Device: "sdb", WPerS: 40, WKBPerS: 320, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 10 && s <= 22 {
			sdb = schema.DeviceIO{Device: "sdb", WPerS: 850, WKBPerS: 110800, WAwaitMs: 250, AquSz: 42, UtilPct: 99.8}
		}
		must(w.Write(event.New(at(s), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{sdb}})))
	}
	must(w.Close())
	return path
}

// TestReplayOfARecordedFile is the whole replay path end to end: a real .stk
// file, findings recomputed by the real detectors, the real sessions.Player
// as the source, and scripted keys through the real program.
func TestReplayOfARecordedFile(t *testing.T) {
	r, err := sessions.Open(writeSaturatedSession(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var finds []event.Event
	err = engine.Replay(r.Iter(time.Time{}), findings.All(findings.Config{}), func(ev event.Event) bool {
		if _, ok := event.As[event.Finding](ev); ok {
			finds = append(finds, ev)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(finds) == 0 {
		t.Fatal("the detectors found nothing in a saturated recording")
	}
	first := finds[0].Time
	dropFindings := func(ev event.Event) bool { _, ok := event.As[event.Finding](ev); return ok }
	player := sessions.NewPlayer(r, 2*time.Minute, dropFindings)
	opts := testOptions()
	opts.Probes = []string{"iostat"}
	m := NewReplay(opts, player, finds)

	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
	tm.Send(press("space")) // pause, so the position only moves by keys
	tm.Type("n")            // first finding
	tm.Type("q")
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)

	if !player.Position().Equal(first) {
		t.Errorf("n went to %s, want the first finding at %s", player.Position().Format("15:04:05"), first.Format("15:04:05"))
	}
	view := screen(t, final)
	for _, want := range []string{"io.saturated", "sdb", "REPLAY ⏸ paused"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	golden.RequireEqual(t, view)
}

// writeFloodMinute records a minute of a packet flood through the real
// writer: a batch of 16384 packets every 2 s, gaps of 3 to 6 µs as a real
// capture has them, 4.9 MB of records.
func writeFloodMinute(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flood.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "lb-1", Started: t0, Interval: time.Second},
		sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	for s := 0; s < 60; s += 2 {
		pb := &packet.PacketBatch{Iface: "lo", Start: at(s)}
		for range 16384 {
			pb.DtUs = append(pb.DtUs, 3+rng.Int63n(4))
			pb.Flow = append(pb.Flow, 1)
			pb.Flags = append(pb.Flags, 0)
			pb.Len = append(pb.Len, 106)
		}
		if err := w.Write(event.New(at(s), "packets", pb)); err != nil {
			t.Fatal(err)
		}
		w.Flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// countingSource is the real Player, counting the steps it is asked for
// and the packet batches it hands out.
type countingSource struct {
	*sessions.Player
	continues, batches int
}

func (c *countingSource) count(evs []event.Event, err error) ([]event.Event, error) {
	for _, ev := range evs {
		if _, ok := event.As[packet.PacketBatch](ev); ok {
			c.batches++
		}
	}
	return evs, err
}

func (c *countingSource) Seek(t time.Time) ([]event.Event, error) {
	c.batches = 0
	return c.count(c.Player.Seek(t))
}

func (c *countingSource) Continue() ([]event.Event, error) {
	c.continues++
	return c.count(c.Player.Continue())
}

// moreIn runs cmd and returns the request for more decoding it carries.
func moreIn(t *testing.T, cmd tea.Cmd) replayMoreMsg {
	t.Helper()
	if cmd != nil {
		switch msg := cmd().(type) {
		case replayMoreMsg:
			return msg
		case tea.BatchMsg:
			for _, c := range msg {
				if m, ok := c().(replayMoreMsg); ok {
					return m
				}
			}
		}
	}
	t.Fatal("no request for more decoding")
	return replayMoreMsg{}
}

// TestReplayQuitsWhileASeekDecodes: End seeks into a minute of flood whose
// history is megabytes to decode. The real Player stops after a step and
// the model asks for the rest with a message of its own, so q, pressed
// meanwhile, is handled first and quits with the decode unfinished: the
// quit is not held up by it. Not quitting, the steps deliver the rest, and
// a request left from an earlier seek is dropped.
func TestReplayQuitsWhileASeekDecodes(t *testing.T) {
	r, err := sessions.Open(writeFloodMinute(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := &countingSource{Player: sessions.NewPlayer(r, 2*time.Minute, nil)}
	opts := testOptions()
	opts.Probes = []string{"packets"}
	m := update(NewReplay(opts, src, nil), tea.WindowSizeMsg{Width: 100, Height: 30}, replayInitMsg{})

	next, cmd := m.Update(press("end"))
	m = next.(Model)
	if !src.Pending() {
		t.Fatal("the seek decoded everything in one call")
	}
	more := moreIn(t, cmd)
	next, cmd = m.Update(press("q"))
	if cmd == nil {
		t.Fatal("q did nothing while a seek was decoding")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok || src.continues != 0 || !src.Pending() {
		t.Fatalf("q: quit %v after %d more steps, pending %v", ok, src.continues, src.Pending())
	}

	// Had it not quit: a step per message until the seek is done.
	m = next.(Model)
	for src.Pending() {
		next, cmd = m.Update(more)
		m = next.(Model)
		if src.Pending() {
			more = moreIn(t, cmd)
		}
	}
	if src.continues < 2 || src.batches != 30 {
		t.Fatalf("%d batches of 30 in %d more steps", src.batches, src.continues)
	}
	steps := src.continues
	m = typeKeys(m, "home")
	m = update(m, more) // from the seek before: dropped
	if src.continues != steps {
		t.Fatal("a stale request decoded")
	}
}
