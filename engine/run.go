package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/internal/aligned"
)

// Run starts the probes, runs until ctx is done, then stops the probes,
// drains what they sent, closes the conditions still open, flushes and
// closes the recorder. Every event and finding reaches the recorder and
// the sink (the last batch too) before Run returns. Each probe's status
// (ok, unavailable, failed, crashed) comes through the same queue as its
// events, and is never dropped (statusEmit).
func (e *Engine) Run(ctx context.Context) error {
	stopProbes, probesDone := e.startProbes()
	r := newRun(e)
	defer r.stop()
	r.loop(ctx)
	stopProbes()
	r.drain(probesDone)
	r.finish()
	r.flush()
	r.deliver()
	if e.o.Recorder != nil {
		if err := e.o.Recorder.Close(); err != nil {
			return fmt.Errorf("closing recording: %w", err)
		}
	}
	return nil
}

// startProbes runs each probe in a goroutine of its own (runProbe), under
// a context of their own: they are stopped by stop, only once Run has
// stopped handling events as they come and is ready to drain them. done
// is closed once every probe has returned.
func (e *Engine) startProbes() (stop context.CancelFunc, done <-chan struct{}) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range e.o.Probes {
		wg.Go(func() { e.runProbe(ctx, p) })
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	return stop, allDone
}

// run is what the steps of one Run share. Only the engine goroutine
// touches it, and only that goroutine calls the recorder, the guard and
// the detectors, so none of them is locked.
type run struct {
	e          *Engine
	batch      []event.Event    // for the sink, in the order handled
	batchT     *time.Timer      // runs only while a batch waits
	batchC     <-chan time.Time // batchT.C while it runs, else nil
	flushT     *aligned.Ticker
	guard      RecordGuard // nil without a recorder
	recStopped bool        // the recording's stop has been shown
	pauseHint  string      // the hint of the last pause notice
}

func newRun(e *Engine) *run {
	r := &run{e: e, batchT: time.NewTimer(e.o.BatchEvery), flushT: aligned.NewTicker(e.o.FlushEvery)}
	r.batchT.Stop()
	if e.o.Recorder != nil {
		r.guard = e.o.RecordGuard
	}
	return r
}

// stop stops the timers.
func (r *run) stop() {
	r.batchT.Stop()
	r.flushT.Stop()
}

// loop handles events from the queue as they come until ctx is done.
// Between them it feeds the sink (at once when FeedWhenIdle and the queue
// is empty; otherwise) BatchEvery after the first event of a
// batch (back-pressure: the sink is called at most that often, and the
// timer runs only while a batch waits, so an idle engine wakes once a
// FlushEvery, not ten times a second), and flushes the recorder every
// FlushEvery, on the wall-clock boundary the polling probes share.
func (r *run) loop(ctx context.Context) {
	for {
		select {
		case ev := <-r.e.queue:
			r.handle(ev)
		case <-r.batchC:
			r.batchC = nil
			r.deliver()
		case <-r.flushT.C:
			r.flush()
		case <-ctx.Done():
			return
		}
		switch {
		case len(r.batch) == 0:
		case r.e.o.FeedWhenIdle:
			if len(r.e.queue) == 0 || len(r.batch) >= feedMax {
				r.deliver()
			}
		case r.batchC == nil:
			r.batchT.Reset(r.e.o.BatchEvery)
			r.batchC = r.batchT.C
		}
	}
}

// feedMax is the most events a FeedWhenIdle engine holds for its sink while
// the queue stays busy (a flood): memory stays bounded, and a capture gets
// its batches back for reuse.
const feedMax = 1024

// drain handles what the probes send while they wind down, until every
// one has returned, and then what is left in the queue: nothing a probe
// saw before it stopped is lost.
func (r *run) drain(probesDone <-chan struct{}) {
	for {
		select {
		case ev := <-r.e.queue:
			r.handle(ev)
		case <-probesDone:
			for len(r.e.queue) > 0 {
				r.handle(<-r.e.queue)
			}
			return
		}
	}
}

// handle takes one event from the queue: it bounds its numbers (a counter
// gone wild must not become an Inf downstream), keeps it, then gives it to
// each detector in turn and keeps their findings. So the recorder, the
// guard and the sink all see the events in one order, each event before
// the findings it caused.
func (r *run) handle(ev event.Event) {
	event.BoundNumbers(ev.Body)
	r.keep(ev)
	for _, d := range r.e.o.Detectors {
		for _, f := range d.Observe(ev) {
			r.found(f)
		}
	}
}

// found keeps a detector's finding, then shows it to the wiring's
// OnFinding: the hook sees it already recorded, so what the hook injects
// (a process_snapshot) comes after it.
func (r *run) found(f event.Event) {
	r.e.finds.Add(1)
	r.keep(f)
	if r.e.o.OnFinding != nil {
		r.e.o.OnFinding(f)
	}
}

// keep adds ev to the batch, records it, and then shows it to the guard,
// so an event that makes the guard pause the recording is itself recorded.
func (r *run) keep(ev event.Event) {
	r.batch = append(r.batch, ev)
	r.e.record(ev)
	if r.guard == nil {
		return
	}
	switch pause, resume := r.guard.Observe(ev); {
	case pause != "":
		r.e.o.Recorder.Pause(pause)
	case resume:
		r.e.o.Recorder.Resume()
	}
}

// finish closes the conditions still open at the end of the session (a
// flow silent to the end): the Finishers' findings are recorded and
// batched after every event. The guard does not see them; the recording
// closes next.
func (r *run) finish() {
	for _, f := range findings.Finish(r.e.o.Detectors) {
		r.e.finds.Add(1)
		r.batch = append(r.batch, f)
		r.e.record(f)
	}
}

// deliver hands the waiting batch, if any, to the sink and starts a new
// one. With SinkKeepsNothing, once the sink has returned it releases every
// event of the batch whose body is an event.Releaser: the recorder and the
// detectors had each event as it was handled, before this, so the sink is
// the last to read it. Each event is in one batch, so it is released once.
func (r *run) deliver() {
	if len(r.batch) == 0 {
		return
	}
	r.e.o.Sink(r.batch)
	if r.e.o.SinkKeepsNothing {
		for _, ev := range r.batch {
			if rel, ok := ev.Body.(event.Releaser); ok {
				rel.Release()
			}
		}
	}
	r.batch = nil
}

// flush flushes the recorder and tells OnRecording its state ("off"
// without one); Run calls it every FlushEvery and once at the end. The
// first time the recording turns out stopped, its stop is shown (once a
// run), and the pause and resume notices the writer wrote since the last
// flush join the batch, in the writer's order.
func (r *run) flush() {
	rec := r.e.o.Recorder
	if rec == nil {
		r.e.report(RecordingState{State: "off"})
		return
	}
	reason, stopped := r.flushRecorder()
	if stopped && !r.recStopped {
		r.recStopped = true
		r.showStop(reason)
	}
	r.takeNotices()
	st := RecordingState{File: rec.Path(), Bytes: rec.Size(), State: "recording"}
	if stopped {
		st.State, st.Reason = "stopped", reason
	} else if why, paused := rec.Paused(); paused {
		st.State, st.Reason, st.Hint = "paused", why, r.pauseHint
	}
	r.e.report(st)
}

// flushRecorder flushes the recorder and says whether the recording has
// stopped, and why: the writer stopped itself (size limit), or a flush
// failed for a reason other than cancellation.
func (r *run) flushRecorder() (reason string, stopped bool) {
	rec := r.e.o.Recorder
	err := rec.Flush()
	reason, stopped = rec.Stopped()
	if err != nil && !stopped && !errors.Is(err, context.Canceled) {
		reason, stopped = "write failed: "+err.Error(), true
	}
	return reason, stopped
}

// showStop batches a stopped recording event and a record.stopped finding.
// The writer has put its own stop marker in the file; these copies are for
// the screen and the report only, so they are not recorded.
func (r *run) showStop(reason string) {
	rec := r.e.o.Recorder
	now := r.e.o.Now()
	r.batch = append(r.batch,
		event.New(now, "recorder", &event.Recording{State: "stopped", File: rec.Path(), Reason: reason}),
		event.New(now, "recorder", &event.Finding{
			Finding: "record.stopped", Severity: event.Warn,
			Summary: "recording stopped: " + reason,
			Data:    map[string]any{"file": rec.Path(), "bytes": rec.Size(), "reason": reason},
		}))
}

// takeNotices batches the pause and resume notices the writer wrote to the
// file, for the screen and the report, and remembers the last pause's hint
// (how to record elsewhere) for the paused state.
func (r *run) takeNotices() {
	for _, n := range r.e.o.Recorder.TakeNotices() {
		if rec, ok := n.Body.(*event.Recording); ok && rec.Hint != "" {
			r.pauseHint = rec.Hint
		}
		r.batch = append(r.batch, n)
	}
}
