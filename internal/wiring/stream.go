package wiring

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// StreamOptions are `stakeout stream`'s, the other end of `--ssh`.
type StreamOptions struct {
	Probes []engine.Named
	// Header is this host's (sessions.HostHeader); Detectors goes into it,
	// so a saved stream reports as the local side's detectors saw it.
	Header    sessions.Header
	Detectors findings.Config
	Out       io.Writer // the stream: stdout
	In        io.Reader // the reading side's lines: stdin
	// ClockSkew is added to the time of every event written, pongs
	// included: a test's stand-in for a host whose clock is off.
	ClockSkew time.Duration
	// Stream tunes the writer; the zero value is the production setting.
	Stream sessions.StreamOptions
}

// pongBacklog is how far past the stream's bound the chunks waiting for
// the pipe may go before pings are read no further: pongs are control
// events, never dropped, so a reader that pings without reading must not
// make them pile up. About 13,000 pongs.
const pongBacklog = 1 << 20

// Stream runs o's probes with no UI and no detectors, writing every event
// to o.Out as a stream (sessions.NewStreamWriter), until o.In reaches its
// end, o.Out breaks (its reader went away), or SIGINT, SIGTERM or SIGHUP.
// Each line `ping ID` on o.In is answered with a stream.pong event, time
// stamped as it is written and flushed at once; other lines are ignored.
// At the end the probes stop (traced processes are detached) and the
// stream is closed with its index and trailer. A broken o.Out is an end
// like the others: Stream returns nil.
func Stream(o StreamOptions) error {
	o.Header.Detectors = findings.ConfigJSON(o.Detectors)
	sw, err := sessions.NewStreamWriter(o.Out, o.Header, o.Stream)
	if err != nil {
		return err
	}
	rec := &streamRecorder{sw: sw, skew: o.ClockSkew, pongLimit: o.Stream.QueueBytes + pongBacklog}
	if o.Stream.QueueBytes <= 0 {
		rec.pongLimit = sessions.DefaultStreamQueue + pongBacklog
	}
	// Without this, Go kills the process with SIGPIPE on a write to a
	// broken stdout; with it the write fails with EPIPE, and the probes
	// stop as they should (a traced process is detached, not left to the
	// tracer's death).
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		answerPings(ctx, o.In, rec)
		cancel() // the reading side closed stdin: the end
	}()
	go func() {
		select {
		case <-sw.Broken():
			cancel()
		case <-ctx.Done():
		}
	}()
	err = engine.New(engine.Options{Probes: o.Probes, Recorder: rec}).Run(ctx)
	if readerGone(err) || (err == nil && readerGone(sw.Err())) {
		return nil // the reader went away: nobody is left to tell
	}
	return err
}

// readerGone says the error is the stream's reader having gone away.
func readerGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe)
}

// answerPings reads o.In's lines until its end, answering each ping.
func answerPings(ctx context.Context, in io.Reader, rec *streamRecorder) {
	br := bufio.NewReaderSize(in, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than any ping: skip to its end.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = nil
		}
		if id, ok := parsePing(line); ok {
			for rec.sw.Backlog() > rec.pongLimit && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
			rec.pong(id)
		}
		if err != nil || ctx.Err() != nil {
			return
		}
	}
}

// parsePing reads `ping ID` (ID a decimal uint64).
func parsePing(line []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("ping "))
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(string(bytes.TrimSpace(rest)), 10, 64)
	return id, err == nil
}

// streamRecorder is the engine's recorder for a stream: it writes every
// event to the stream writer, moved by the clock skew. There is no file,
// no disk to fill, and so no pause.
type streamRecorder struct {
	sw        *sessions.StreamWriter
	skew      time.Duration
	pongLimit int // the backlog past which pings wait (pongBacklog)
}

func (r *streamRecorder) Write(ev event.Event) error {
	ev.Time = ev.Time.Add(r.skew)
	return r.sw.Write(ev)
}

// pong answers a ping at once: written and flushed, with the time it is
// answered at (this host's clock, moved by the skew).
func (r *streamRecorder) pong(id uint64) {
	if r.Write(event.New(time.Now(), schema.ProbeRemote, &schema.StreamPong{ID: id})) == nil {
		r.sw.Flush()
	}
}

func (r *streamRecorder) Flush() error { return r.sw.Flush() }
func (r *streamRecorder) Size() int64  { return r.sw.Written() }
func (r *streamRecorder) Path() string { return "(stream)" }
func (r *streamRecorder) Close() error { return r.sw.Close() }
func (r *streamRecorder) Stopped() (string, bool) {
	if err := r.sw.Err(); err != nil {
		return err.Error(), true
	}
	return "", false
}
func (r *streamRecorder) Pause(string)               {}
func (r *streamRecorder) Resume()                    {}
func (r *streamRecorder) Paused() (string, bool)     { return "", false }
func (r *streamRecorder) TakeNotices() []event.Event { return nil }
