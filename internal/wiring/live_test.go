package wiring

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/themes"
	"github.com/stakeout/stakeout/ui"
)

// woken says whether the mailbox's forwarder would wake, and clears it.
func woken(l *live) bool {
	select {
	case <-l.box.Ready():
		l.box.Take()
		return true
	default:
		return false
	}
}

// TestLiveRecordingStateWakesOnlyWhenItMust: the engine reports the
// recording every second; each message to the program costs an Update and
// a whole View, so the forwarder is woken for a new state (the first,
// paused, stopped, off) but not for the same state again, nor for a new
// size while events go every second (the size rides with them), and for a
// new size when no events went for a while.
func TestLiveRecordingStateWakesOnlyWhenItMust(t *testing.T) {
	l := &live{box: ui.NewMailbox(10)}
	rec := engine.RecordingState{File: "/var/tmp/stakeout/h.stk", Bytes: 100, State: "recording"}
	l.onRecording(rec)
	if !woken(l) {
		t.Fatal("the first state did not wake the forwarder")
	}
	if m, ok := l.takeRecording(); !ok || m.Bytes != 100 {
		t.Fatalf("take: %+v %v", m, ok)
	}
	if _, ok := l.takeRecording(); ok {
		t.Error("the same state taken twice")
	}
	l.onRecording(rec)
	if woken(l) {
		t.Error("the same state again woke the forwarder")
	}
	l.evsSent.Store(time.Now().UnixNano())
	rec.Bytes = 200
	l.onRecording(rec)
	if woken(l) {
		t.Error("a new size woke the forwarder while events go every second")
	}
	if m, ok := l.takeRecording(); !ok || m.Bytes != 200 {
		t.Errorf("the new size is not there for the next events: %+v %v", m, ok)
	}
	l.evsSent.Store(time.Now().Add(-recordingAlone - time.Second).UnixNano())
	rec.Bytes = 300
	l.onRecording(rec)
	if !woken(l) {
		t.Error("a new size with no events for a while did not wake the forwarder")
	}
	l.evsSent.Store(time.Now().UnixNano())
	rec.Bytes, rec.State, rec.Reason = 400, "paused", "filesystem filling"
	l.onRecording(rec)
	if !woken(l) {
		t.Error("a pause did not wake the forwarder")
	}
}

// TestLiveModelFoldsTheRecordingIntoEvents: the size waiting for the next
// events is applied in the same Update as they are, and shows on the
// status line.
func TestLiveModelFoldsTheRecordingIntoEvents(t *testing.T) {
	l := &live{box: ui.NewMailbox(10)}
	var m tea.Model = liveModel{ui.NewLive(ui.Options{Host: "h", Probes: []string{"kmsg"}, Theme: themes.Must("dark"),
		Now: time.Now, Loc: time.UTC}), l}
	m, _ = m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	l.onRecording(engine.RecordingState{File: "/var/tmp/stakeout/h.stk", Bytes: 5 << 20, State: "recording"})
	m, _ = m.Update(ui.EventsMsg{event.New(time.Now(), "kmsg", &event.ProbeStatus{Status: event.StatusOK})})
	if _, ok := l.takeRecording(); ok {
		t.Error("the recording state was not taken with the events")
	}
	v := m.View().Content
	if !strings.Contains(v, "h.stk") || !strings.Contains(v, "5.0") {
		t.Errorf("status line lacks the recording:\n%s", v[strings.LastIndex(v, "\n")+1:])
	}
}
