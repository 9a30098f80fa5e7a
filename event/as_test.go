package event

import (
	"testing"
	"time"
)

func TestAs(t *testing.T) {
	at := time.Unix(1, 0)
	if n, ok := As[Note](New(at, "", &Note{Text: "ptr"})); !ok || n.Text != "ptr" {
		t.Errorf("*Note body: %v %v", n, ok)
	}
	if n, ok := As[Note](New(at, "", Note{Text: "value"})); !ok || n.Text != "value" {
		t.Errorf("Note value body: %v %v", n, ok)
	}
	if _, ok := As[Finding](New(at, "", &Note{Text: "x"})); ok {
		t.Error("a note is not a finding")
	}
	if _, ok := As[Note](Event{Kind: KindNote, Body: (*Note)(nil)}); ok {
		t.Error("a nil *Note is no note (callers would dereference it)")
	}
	if _, ok := As[Note](Event{Kind: KindNote}); ok {
		t.Error("an event of unknown body is no note")
	}
	if f, ok := As[Finding](New(at, "", &Finding{Finding: "x"})); !ok || f.Finding != "x" {
		t.Error("AsFinding wraps As")
	}
}
