package wiring

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

var streamT0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

// ticker emits a note stamped streamT0 + i seconds every few milliseconds
// until it is stopped, then one last note, "stopped": a probe that has
// something to say as it stops.
type ticker struct{}

func (ticker) Check() error { return nil }

func (ticker) Run(ctx context.Context, emit func(event.Event)) error {
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			emit(event.New(streamT0, "note", event.NewNote("t", "stopped")))
			return nil
		case <-time.After(5 * time.Millisecond):
			emit(event.New(streamT0.Add(time.Duration(i)*time.Second), "note", event.NewNote("t", "tick")))
		}
	}
}

type streamRun struct {
	in   *io.PipeWriter
	out  *os.File // the reading end of the stream
	sr   *sessions.StreamReader
	done chan error
}

func startStream(t *testing.T, skew time.Duration) *streamRun {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &streamRun{in: inW, out: outR, done: make(chan error, 1)}
	go func() {
		r.done <- Stream(StreamOptions{
			Probes: []engine.Named{{Name: "ticker", Probe: ticker{}}},
			Header: sessions.Header{Hostname: "r1"},
			Out:    outW, In: inR, ClockSkew: skew,
		})
		outW.Close()
	}()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	if r.sr, err = sessions.ReadStream(outR); err != nil {
		t.Fatal(err)
	}
	return r
}

// until reads events until match says so; it fails the test at the end of
// the stream or after a generous wait.
func (r *streamRun) until(t *testing.T, what string, match func(event.Event) bool) event.Event {
	t.Helper()
	got := make(chan event.Event, 1)
	go func() {
		for {
			ev, err := r.sr.Next()
			if err != nil {
				close(got)
				return
			}
			if match(ev) {
				got <- ev
				return
			}
		}
	}()
	select {
	case ev, ok := <-got:
		if !ok {
			t.Fatalf("the stream ended before %s", what)
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s", what)
	}
	return event.Event{}
}

func (r *streamRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Stream did not return")
	}
	return nil
}

func isNote(text string) func(event.Event) bool {
	return func(ev event.Event) bool {
		n, ok := event.As[event.Note](ev)
		return ok && n.Text == text
	}
}

// TestStreamPingsAndEnd: the probes' events come down the stream, with
// the detector settings in its header; `ping 7` is answered with a pong
// for 7, other lines (junk, an overlong line) are ignored; when stdin
// ends the probe is stopped, what it says as it stops is still written,
// the stream ends cleanly and Stream returns nil.
func TestStreamPingsAndEnd(t *testing.T) {
	r := startStream(t, 0)
	if h := r.sr.Header(); h.Hostname != "r1" || len(h.Detectors) == 0 {
		t.Fatalf("header %+v", h)
	}
	r.until(t, "a probe's event", isNote("tick"))
	io.WriteString(r.in, "hello\n"+strings.Repeat("x", 10000)+"\nping nope\nping 7\n")
	before := time.Now()
	pong := r.until(t, "a pong", func(ev event.Event) bool { _, ok := event.As[schema.StreamPong](ev); return ok })
	if p, _ := event.As[schema.StreamPong](pong); p.ID != 7 || pong.Probe != schema.ProbeRemote {
		t.Fatalf("pong %+v", pong)
	}
	if pong.Time.Before(before.Add(-time.Second)) || pong.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("pong stamped %s, answered between %s and now", pong.Time, before)
	}
	r.in.Close()
	r.until(t, "the probe's last event, written after stdin ended", isNote("stopped"))
	for {
		if _, err := r.sr.Next(); err != nil {
			if err != io.EOF {
				t.Fatalf("the stream ended with %v, want io.EOF", err)
			}
			break
		}
	}
	if err := r.wait(t); err != nil {
		t.Fatalf("Stream: %v", err)
	}
}

// TestStreamClockSkew: every event's time, and the pong's, is moved by the
// skew, and nothing else about it changes.
func TestStreamClockSkew(t *testing.T) {
	r := startStream(t, 3*time.Second)
	tick := r.until(t, "a probe's event", isNote("tick"))
	if off := tick.Time.Sub(streamT0) - 3*time.Second; off < 0 || off%time.Second != 0 {
		t.Errorf("event at %s, want streamT0 + i s + 3 s", tick.Time)
	}
	io.WriteString(r.in, "ping 1\n")
	pong := r.until(t, "a pong", func(ev event.Event) bool { _, ok := event.As[schema.StreamPong](ev); return ok })
	if d := pong.Time.Sub(time.Now()); d < 2*time.Second || d > 4*time.Second {
		t.Errorf("pong %s ahead of this clock, want about 3 s", d)
	}
	r.in.Close()
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestStreamReaderGone: when the stream's reader goes away, Stream stops
// its probes and returns nil: a broken pipe is an end, not an error.
func TestStreamReaderGone(t *testing.T) {
	r := startStream(t, 0)
	r.until(t, "a probe's event", isNote("tick"))
	r.out.Close()
	if err := r.wait(t); err != nil {
		t.Fatalf("Stream after its reader went away: %v", err)
	}
}

func TestParsePing(t *testing.T) {
	for in, want := range map[string]uint64{"ping 7\n": 7, "ping 18446744073709551615\r\n": 1<<64 - 1, " ping  42 ": 42} {
		if id, ok := parsePing([]byte(in)); !ok || id != want {
			t.Errorf("%q: %d %v", in, id, ok)
		}
	}
	for _, in := range []string{"", "ping", "ping -1", "ping 1x", "pong 1", "PING 1", "ping 99999999999999999999"} {
		if _, ok := parsePing([]byte(in)); ok {
			t.Errorf("%q read as a ping", in)
		}
	}
}
