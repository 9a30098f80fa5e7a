package ui

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

type mailboxSample struct{}

func (mailboxSample) EventKind() string { return "mailbox_test_sample" }

func init() { event.Register("mailbox_test_sample", func() event.Body { return &mailboxSample{} }) }

func TestMailboxShedsSamplesNeverFindings(t *testing.T) {
	m := NewMailbox(10)
	var in []event.Event
	for i := 0; i < 30; i++ {
		in = append(in, event.New(time.Unix(int64(i), 0), "p", &mailboxSample{}))
		if i%10 == 0 {
			in = append(in, event.New(time.Unix(int64(i), 0), "p", &event.Finding{Finding: "x"}))
		}
	}
	in = append(in, event.New(time.Unix(99, 0), "p", &event.ProbeStatus{Status: event.StatusOK}))
	m.Put(in) // the UI never took anything: must not block
	got := m.Take()
	if len(got) != 10 {
		t.Fatalf("kept %d events, want the cap of 10", len(got))
	}
	finds, statuses := 0, 0
	for _, ev := range got {
		switch ev.Kind {
		case event.KindFinding:
			finds++
		case event.KindProbeStatus:
			statuses++
		}
	}
	if finds != 3 || statuses != 1 {
		t.Fatalf("kept %d findings and %d statuses, want all 3 and 1", finds, statuses)
	}
	if last := got[len(got)-2]; last.Time.Unix() != 29 {
		t.Fatalf("the newest samples should survive, last sample is at %d", last.Time.Unix())
	}
	if m.shed != 24 {
		t.Fatalf("shed %d, want 24", m.shed)
	}
	if m.Take() != nil {
		t.Fatal("take after take should be empty")
	}
	select {
	case <-m.Ready():
	default:
		t.Fatal("put did not signal ready")
	}
}

// A note is a person's words: a lagging screen sheds samples, never notes.
func TestMailboxNeverShedsNotes(t *testing.T) {
	box := NewMailbox(10)
	note := event.New(t0, event.ProbeNote, event.NewNote("alice", "keep me"))
	box.Put([]event.Event{note})
	for i := 0; i < 50; i++ {
		box.Put([]event.Event{event.New(t0, "p", &mailboxSample{})})
	}
	var kept bool
	for _, ev := range box.Take() {
		kept = kept || ev.Kind == event.KindNote
	}
	if !kept {
		t.Fatal("the mailbox shed a note")
	}
}

// TestMailboxKeepsEveryControlKind: under back-pressure the mailbox sheds
// every kind but the control ones, the same set the frozen view keeps
// (TestFreezeKeepsEveryControlKind checks that side).
func TestMailboxKeepsEveryControlKind(t *testing.T) {
	for _, kind := range event.Kinds() {
		m := NewMailbox(0)
		m.Put([]event.Event{{Time: time.Unix(1, 0), Probe: "p", Kind: kind}})
		kept := len(m.Take()) == 1
		if kept != event.IsControl(kind) {
			t.Errorf("kind %s: kept %v by the mailbox past its cap, control %v", kind, kept, event.IsControl(kind))
		}
	}
}
