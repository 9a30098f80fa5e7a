package main

import (
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

type sample struct{}

func (sample) EventKind() string { return "mailbox_test_sample" }

func init() { event.Register("mailbox_test_sample", func() event.Body { return &sample{} }) }

func TestMailboxShedsSamplesNeverFindings(t *testing.T) {
	m := newMailbox(10)
	var in []event.Event
	for i := 0; i < 30; i++ {
		in = append(in, event.New(time.Unix(int64(i), 0), "p", &sample{}))
		if i%10 == 0 {
			in = append(in, event.New(time.Unix(int64(i), 0), "p", &event.Finding{Finding: "x"}))
		}
	}
	in = append(in, event.New(time.Unix(99, 0), "p", &event.ProbeStatus{Status: event.StatusOK}))
	m.put(in) // the UI never took anything: must not block
	got := m.take()
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
	if m.take() != nil {
		t.Fatal("take after take should be empty")
	}
	select {
	case <-m.ready:
	default:
		t.Fatal("put did not signal ready")
	}
}
