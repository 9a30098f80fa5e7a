package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/probes"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

var g0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

// diskScript is a diskfill stand-in: one sample a second of event time for
// /data (the recording's filesystem) and /other, with /data's free bytes
// taken from avail; between the two halves it waits for gate.
type diskScript struct {
	first, second []uint64 // /data's available bytes, one sample each
	gate          chan struct{}
}

func diskSample(at time.Time, avail uint64) event.Event {
	const size = 1 << 30
	fs := func(mount string, avail uint64) schema.Filesystem {
		return schema.Filesystem{Mount: mount, Device: "/dev/x" + mount, FSType: "ext4", SizeBytes: size,
			UsedBytes: size - avail, AvailBytes: avail, FreeBytes: avail}
	}
	return event.New(at, "diskfill", &schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{
		fs("/data", avail), fs("/other", 1<<20), // /other is critical throughout: not ours
	}})
}

func (d diskScript) Check() error { return nil }
func (d diskScript) Run(ctx context.Context, emit probes.Emit) error {
	s := 0
	for _, avail := range d.first {
		emit(diskSample(g0.Add(time.Duration(s)*time.Second), avail))
		s++
	}
	select {
	case <-d.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, avail := range d.second {
		emit(diskSample(g0.Add(time.Duration(s)*time.Second), avail))
		s++
	}
	<-ctx.Done()
	return ctx.Err()
}

func repeat(avail uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = avail
	}
	return out
}

// TestCriticalFillOfTheRecordingsFilesystemPausesIt: a critical disk.filling
// for the recording's own mount pauses the real writer (one for another
// mount does not); it resumes after 30 s of well-clear samples, not at the
// first one; the file, the sink and the recording state all show it.
func TestCriticalFillOfTheRecordingsFilesystemPausesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h"}, sessions.WriterOptions{FlushEvery: -1,
		FreeSpace: func(string) (uint64, uint64, error) { return 1 << 40, 1 << 41, nil }})
	if err != nil {
		t.Fatal(err)
	}
	const gb = 1 << 30
	script := diskScript{
		// Healthy, then under 1% available: critical from the second such sample.
		first: append(repeat(gb/2, 5), repeat(gb/200, 5)...),
		// Back to half free, but a dip to 1.5% after 10 s restarts the 30 s.
		second: append(append(repeat(gb/2, 10), gb*3/200), repeat(gb/2, 35)...),
		gate:   make(chan struct{}),
	}
	var states []RecordingState
	gateOpen := false
	var got []event.Event
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := New(Options{
		Probes:      []Named{{"diskfill", script}},
		Detectors:   []findings.Detector{findings.NewDiskFill()},
		Recorder:    w,
		RecordGuard: findings.NewDiskFillGuard([]string{"/data", "/mnt/data-bind"}),
		Sink:        func(b []event.Event) { got = append(got, b...) },
		Now:         func() time.Time { return g0 }, // status events on the script's clock
		BatchEvery:  5 * time.Millisecond,
		FlushEvery:  5 * time.Millisecond,
		OnRecording: func(s RecordingState) {
			states = append(states, s)
			if s.State == "paused" && !gateOpen {
				gateOpen = true
				close(script.gate)
			}
			if gateOpen && s.State == "recording" {
				cancel()
			}
		},
	})
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		cancel()
		<-done
		t.Fatalf("never paused and resumed; states %+v", states)
	}

	var paused *RecordingState
	for i := range states {
		if states[i].State == "paused" {
			paused = &states[i]
			break
		}
	}
	if paused == nil || paused.Hint != sessions.DefaultPauseHint || paused.Reason == "" {
		t.Fatalf("no paused state with a hint: %+v", states)
	}
	t.Logf("paused: %s", paused.Reason)

	// The sink (screen, report) saw the pause finding and both notices.
	var sinkStates []string
	pauseFindings := 0
	for _, ev := range got {
		if r, ok := ev.Body.(*event.Recording); ok {
			sinkStates = append(sinkStates, r.State)
		}
		if f, ok := event.As[event.Finding](ev); ok && f.Finding == sessions.FindingRecordPaused {
			pauseFindings++
		}
	}
	if len(sinkStates) != 2 || sinkStates[0] != "paused" || sinkStates[1] != "resumed" || pauseFindings != 1 {
		t.Fatalf("sink saw recording states %v and %d record.paused", sinkStates, pauseFindings)
	}

	// In the file: samples 0…6 (the 7th raised the critical finding, which
	// is recorded before the pause), a gap, and the samples from the resume.
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	it := r.Iter(time.Time{})
	var secs []int
	var recs []*event.Recording
	for {
		ev, ok := it.Next()
		if !ok {
			break
		}
		switch b := ev.Body.(type) {
		case *schema.DiskUsage:
			secs = append(secs, int(ev.Time.Sub(g0)/time.Second))
		case *event.Recording:
			recs = append(recs, b)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].State != "paused" || recs[1].State != "resumed" {
		t.Fatalf("recording events in the file: %+v", recs)
	}
	// Pause after second 6's sample; 10…19 are clear but too few; 20 is the
	// dip; the 30 s of clear samples run from 21 to 51, whose sample is the
	// last dropped.
	want := []int{0, 1, 2, 3, 4, 5, 6, 52, 53, 54, 55}
	if fmt.Sprint(secs) != fmt.Sprint(want) {
		t.Fatalf("recorded samples at seconds %v, want %v", secs, want)
	}
	// Dropped: the 45 samples 7…51 and the disk.filling clear at 39 (30 s
	// after the last critical sample).
	if *recs[1].EventsDropped != 46 || *recs[1].PausedS != 45 {
		t.Fatalf("resumed after %v s with %d dropped, want 45 s (6 → 51) and 46", *recs[1].PausedS, *recs[1].EventsDropped)
	}
}

// seeingGuard logs what it is shown, checking each event was recorded
// just before; it asks for a pause at tick 3 and a resume at the finding
// made for tick 6.
type seeingGuard struct {
	t   *testing.T
	rec *holdRecorder
	saw []string
}

func (g *seeingGuard) Observe(ev event.Event) (string, bool) {
	if g.rec != nil && (len(g.rec.evs) == 0 || g.rec.evs[len(g.rec.evs)-1].Body != ev.Body) {
		g.t.Errorf("the guard got %v before the recorder", ev.Body)
	}
	switch b := ev.Body.(type) {
	case *tick:
		g.saw = append(g.saw, fmt.Sprint("t", b.N))
		if b.N == 3 {
			return "because", false
		}
	case *event.Finding:
		g.saw = append(g.saw, fmt.Sprint("f", ev.Time.Unix()))
		return "", ev.Time.Unix() == 6
	}
	return "", false
}

// holdRecorder logs the pauses and resumes it is asked for.
type holdRecorder struct {
	memRecorder
	holds []string
}

func (h *holdRecorder) Pause(why string) { h.holds = append(h.holds, "pause "+why) }
func (h *holdRecorder) Resume()          { h.holds = append(h.holds, "resume") }

// TestRecordGuardSeesTheStreamInOrder pins the generic guard contract,
// disk fill aside: the guard is shown every probe event and each finding
// right after the event that caused it, each once it is recorded; its
// pause and resume go to the recorder; without a recorder it is not asked.
func TestRecordGuardSeesTheStreamInOrder(t *testing.T) {
	rec := &holdRecorder{}
	g := &seeingGuard{t: t, rec: rec}
	runFor(t, Options{Probes: []Named{{"fake", fakeProbe{n: 9}}}, Detectors: []findings.Detector{everyThird{}},
		Recorder: rec, RecordGuard: g}, 100*time.Millisecond)
	if got, want := fmt.Sprint(g.saw), "[t0 f0 t1 t2 t3 f3 t4 t5 t6 f6 t7 t8]"; got != want {
		t.Errorf("the guard saw %s, want %s", got, want)
	}
	if got := fmt.Sprint(rec.holds); got != "[pause because resume]" {
		t.Errorf("the recorder was told %s", got)
	}
	off := &seeingGuard{t: t}
	runFor(t, Options{Probes: []Named{{"fake", fakeProbe{n: 9}}}, RecordGuard: off}, 50*time.Millisecond)
	if len(off.saw) != 0 {
		t.Errorf("with no recorder the guard saw %v", off.saw)
	}
}
