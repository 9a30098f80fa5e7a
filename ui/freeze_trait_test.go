package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// TestFreezeKeepsNotePastTheBound: a note that arrives while the view is
// frozen, and is then buried under more samples than the freezer holds,
// is on the screen once the view thaws. The freezer used to keep only
// findings, statuses and recorder events, so the note was dropped with the
// samples (it was still in the file, but never shown).
func TestFreezeKeepsNotePastTheBound(t *testing.T) {
	m := liveFixture(100, 30)
	m = typeKeys(m, "p") // freeze
	note := event.New(t0.Add(25*time.Second), "", &event.Note{Author: "bob", Text: "rolled back the deploy"})
	m = update(m, EventsMsg{note})
	sample := event.New(t0.Add(26*time.Second), "iostat", &schema.IOSample{})
	for range maxHeld/1000 + 2 {
		batch := make([]event.Event, 1000)
		for i := range batch {
			batch[i] = sample
		}
		m = update(m, EventsMsg(batch))
	}
	if !strings.Contains(m.freeze.Label(), "dropped") {
		t.Fatalf("the freezer should have dropped samples to stay bounded: %q", m.freeze.Label())
	}
	m = typeKeys(m, "p") // thaw
	if s := screen(t, m); !strings.Contains(s, "rolled back the deploy") {
		t.Fatalf("the note held during the freeze is not shown after it:\n%s", s)
	}
}

// TestFreezeKeepsEveryControlKind: the freezer drops samples, never a kind
// registered as control, whatever the kind; and it does drop the others.
func TestFreezeKeepsEveryControlKind(t *testing.T) {
	control := 0
	for _, kind := range event.Kinds() {
		ev := event.Event{Time: t0, Probe: "p", Kind: kind}
		kept, gone := dropSamples([]event.Event{ev}, 1)
		if event.IsControl(kind) {
			control++
			if len(kept) != 1 || len(gone) != 0 {
				t.Errorf("control kind %s was dropped by the freezer", kind)
			}
		} else if len(kept) != 0 || len(gone) != 1 {
			t.Errorf("sample kind %s was kept by the freezer past its bound", kind)
		}
	}
	if control < 4 {
		t.Fatalf("only %d control kinds registered; findings, statuses, recorder events and notes are", control)
	}
}
