package main

import (
	"testing"
	"time"
)

var noteT0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

func TestNoteDefaultTime(t *testing.T) {
	start, end := noteT0, noteT0.Add(time.Hour)
	sp := timeSpan{Session: start, Start: start, End: end}
	if got, _ := noteTime("", sp, noteT0.Add(time.Minute)); !got.Equal(noteT0.Add(time.Minute)) {
		t.Errorf("now within the recording: %v", got)
	}
	if got, _ := noteTime("", sp, noteT0.Add(48*time.Hour)); !got.Equal(end) {
		t.Errorf("now after the recording: %v", got)
	}
	if got, _ := noteTime("-5m", sp, noteT0); !got.Equal(end.Add(-5 * time.Minute)) {
		t.Errorf("--at -5m: %v", got)
	}
}
