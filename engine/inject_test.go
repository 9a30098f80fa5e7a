package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// A note typed in the TUI reaches the recording and the screen like a
// probe's event.
func TestInjectedNoteIsRecordedAndShown(t *testing.T) {
	rec := &memRecorder{}
	var mu sync.Mutex
	var shown []event.Event
	seen := make(chan struct{}, 1)
	e := New(Options{Recorder: rec, BatchEvery: 10 * time.Millisecond, Sink: func(b []event.Event) {
		mu.Lock()
		shown = append(shown, b...)
		mu.Unlock()
		select {
		case seen <- struct{}{}:
		default:
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	note := event.New(time.Date(2026, 11, 23, 4, 0, 10, 0, time.UTC), event.ProbeNote, event.NewNote("alice", "backup job"))
	if err := e.Inject(ctx, note); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case <-seen:
		case <-time.After(10 * time.Second): // a hang guard, not a speed check
			t.Fatal("the note never reached the sink")
		}
		mu.Lock()
		n := len(shown)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(shown) != 1 || shown[0].Kind != event.KindNote {
		t.Fatalf("sink got %+v", shown)
	}
	if len(rec.evs) != 1 || rec.evs[0].Kind != event.KindNote {
		t.Fatalf("recorder got %+v", rec.evs)
	}
	// Once the engine is gone, Inject gives up instead of hanging.
	full := New(Options{QueueLen: 1})
	full.Inject(context.Background(), note)
	if err := full.Inject(ctx, note); err == nil {
		t.Fatal("Inject into a full queue of a stopped engine returned nil")
	}
}
