// Package engine runs the selected probes and fans their events out to the
// recorder, the detectors and a sink (the TUI or the snapshot report).
//
// One goroutine (Run's) owns the recorder and the detectors, so neither needs
// locking. Probes run in their own goroutines and hand events over a bounded
// channel without ever blocking: a probe such as the ptrace tracer must not
// wait on stakeout before it re-injects a signal.
package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
)

// Recorder is what the engine needs of a session file writer.
type Recorder interface {
	Write(ev event.Event) error
	Flush() error
	Size() int64
	Path() string
	Stopped() (reason string, stopped bool)
	Close() error
	// Pause and Resume hold recording while its filesystem fills; Paused
	// says whether it is held (by them or by the writer's free-space
	// floor); TakeNotices hands over the pause and resume events the
	// writer put in the file, for the screen and the report.
	Pause(reason string)
	Resume()
	Paused() (reason string, paused bool)
	TakeNotices() []event.Event
}

// RecordGuard decides, from the stream, when the recording should be held:
// Observe returns a reason to pause it, or resume = true, or neither. It
// is called on the engine goroutine only.
type RecordGuard interface {
	Observe(ev event.Event) (pause string, resume bool)
}

// Source is one live source of events: what package probes calls a Probe.
// The engine needs no more of it, so it does not import the collectors.
type Source interface {
	// Check says whether the source can run on this host, without side
	// effects; an *event.Unavailable says why not.
	Check() error
	// Run emits events until ctx is done; a returned error (other than
	// ctx.Err()) becomes the source's status, and the others go on.
	Run(ctx context.Context, emit func(event.Event)) error
}

// Named pairs a probe with its registry name.
type Named struct {
	Name  string
	Probe Source
}

// RecordingState is handed to the sink once a second.
type RecordingState struct {
	File   string
	Bytes  int64
	State  string // "recording", "paused", "stopped" or "off"
	Reason string
	Hint   string // paused: how to record elsewhere
}

// Options wires one engine run.
type Options struct {
	Probes    []Named
	Detectors []findings.Detector
	Recorder  Recorder // nil: no recording
	// RecordGuard, with a Recorder, sees every probe event and every
	// detector finding, each right after it is recorded, and may pause the
	// recording or resume it (findings.DiskFillGuard pauses it while its
	// own filesystem fills critically). nil: only the writer pauses itself.
	RecordGuard RecordGuard
	// OnFinding, if set, sees each finding a detector makes while the
	// session runs, on the engine goroutine, right after it is recorded
	// (not those that close the session: the processes they name are
	// gone). It must not block: work that takes time (reading a process's
	// /proc for a process_snapshot) goes to a goroutine of its own, which
	// hands its event back with Inject. The engine knows no finding; the
	// wiring decides which ones matter.
	OnFinding func(event.Event)
	// Sink receives events (probe events, findings, statuses) in batches, on
	// the engine goroutine. It must not block for long.
	Sink func([]event.Event)
	// FeedWhenIdle feeds the Sink as soon as the queue is empty (or
	// feedMax events wait), instead of BatchEvery after a batch's first
	// event: for a sink that is cheap to call (snapshot's report), so an
	// idle engine wakes once a second, not a second time 100 ms later for
	// the batch. Implied with no Sink.
	FeedWhenIdle bool
	// SinkKeepsNothing says the Sink is done with every event when it
	// returns (it may keep findings, which own their memory): the engine
	// then releases every event whose body is an event.Releaser (a live
	// capture's packet batch, whose columns go back for reuse), once, after
	// the recorder, the detectors and the sink. Leave it false for a sink
	// that hands events on to another goroutine (the TUI), which then
	// releases them itself. With no Sink it is implied.
	SinkKeepsNothing bool
	// OnRecording receives the recorder's state once a second.
	OnRecording func(RecordingState)
	Now         func() time.Time
	BatchEvery  time.Duration // how often the sink is fed; default 100ms
	FlushEvery  time.Duration // how often the recorder is flushed; default 1s
	QueueLen    int           // bounded probe→engine queue; default 8192
}

// Stats are the engine's own counters.
type Stats struct {
	Events   uint64 // events accepted from probes
	Dropped  uint64 // events dropped because the queue was full
	Findings uint64
}

// Engine is one run. Create with New, start with Run.
type Engine struct {
	o       Options
	queue   chan event.Event
	events  atomic.Uint64
	dropped atomic.Uint64
	finds   atomic.Uint64
}

// New checks options and fills defaults.
func New(o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BatchEvery <= 0 {
		o.BatchEvery = 100 * time.Millisecond
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 8192
	}
	if o.Sink == nil {
		o.Sink = func([]event.Event) {}
		o.SinkKeepsNothing = true
		o.FeedWhenIdle = true
	}
	return &Engine{o: o, queue: make(chan event.Event, o.QueueLen)}
}

// Stats returns the counters so far; safe from any goroutine.
func (e *Engine) Stats() Stats {
	return Stats{Events: e.events.Load(), Dropped: e.dropped.Load(), Findings: e.finds.Load()}
}

// emit is the probes' Emit: never blocks, counts what it has to drop.
func (e *Engine) emit(ev event.Event) {
	select {
	case e.queue <- ev:
		e.events.Add(1)
	default:
		e.dropped.Add(1)
	}
}

// statusEmit delivers a status event; these must not be lost, so it waits
// for room (statuses are rare and never sent from a probe's hot path).
func (e *Engine) statusEmit(ctx context.Context, name string, st event.ProbeStatus) {
	ev := event.New(e.o.Now(), name, &st)
	select {
	case e.queue <- ev:
		e.events.Add(1)
	case <-ctx.Done():
	}
}

func (e *Engine) record(ev event.Event) {
	if e.o.Recorder != nil {
		// Errors surface through Flush/Stopped once a second.
		_ = e.o.Recorder.Write(ev)
	}
}

func (e *Engine) report(st RecordingState) {
	if e.o.OnRecording != nil {
		e.o.OnRecording(st)
	}
}

// runProbe checks and runs one probe. A panic or error in one probe becomes
// its status and never reaches the others.
func (e *Engine) runProbe(ctx context.Context, p Named) {
	defer func() {
		if r := recover(); r != nil {
			e.statusEmit(ctx, p.Name, event.ProbeStatus{Status: event.StatusError,
				Reason: fmt.Sprintf("probe crashed: %v", r)})
		}
	}()
	if err := p.Probe.Check(); err != nil {
		e.statusEmit(ctx, p.Name, event.StatusOf(err))
		return
	}
	e.statusEmit(ctx, p.Name, event.StatusOf(nil))
	err := p.Probe.Run(ctx, e.emit)
	if err != nil && ctx.Err() == nil {
		e.statusEmit(ctx, p.Name, event.StatusOf(err))
	}
}
