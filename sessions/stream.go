package sessions

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// A stream is a session file written to a pipe (`stakeout stream`, the
// other end of `stakeout --ssh`): the same preamble, header, chunks, CRCs
// and zstd segments, ending with the index and trailer when the writer
// closes cleanly (see FORMAT.md, "Streams"). Saved to a file it is a
// recording like any other.

const (
	// DefaultStreamQueue bounds the encoded bytes a StreamWriter holds for
	// a pipe that does not take them (StreamOptions.QueueBytes).
	DefaultStreamQueue = 4 << 20
	defaultStreamFlush = 250 * time.Millisecond
	defaultCloseWait   = 5 * time.Second
	// maxStreamSegs bounds the segment table kept for the index written
	// at Close (32 bytes a segment: 2 MiB, 18 hours of a flood that rolls a
	// segment a second). A longer stream ends with a trailer that points
	// at no index, and a reader of its file walks the chunks.
	maxStreamSegs = 1 << 16
	// maxDropProbes bounds the per-probe counts of a stream.dropped record.
	maxDropProbes = 32
)

// StreamOptions tune a StreamWriter. The zero value is the production
// setting.
type StreamOptions struct {
	// FlushEvery is how long an event may wait before the chunk that holds
	// it is cut and queued for the pipe: 0 means 250 ms, negative means
	// only Flush, Close and a full buffer (512 KiB of records) cut one.
	// The zstd frame goes on across cuts, so short flushes cost little
	// compression.
	FlushEvery time.Duration
	// QueueBytes bounds the chunks waiting for the pipe; 0 means
	// DefaultStreamQueue. Past it, events that are not control events are
	// dropped, and counted, until half of it has been written.
	QueueBytes int
	// CloseWait is how long Close waits for a pipe that takes nothing; 0
	// means 5 s.
	CloseWait time.Duration
}

// StreamWriter writes a stream to an io.Writer that cannot seek or
// truncate (a pipe, ssh's stdin). Write only encodes; chunks are cut every
// FlushEvery (or on Flush) and queued, and a goroutine of the writer's own
// hands them to the pipe, so a stalled pipe never blocks Write, Flush or
// the engine behind them. The queue is bounded (QueueBytes): while it is
// full, events that are not control events (event.IsControl) are dropped
// before they are encoded and counted, and once half of it has been
// written a stream.dropped event (schema.StreamDropped) says how many, of
// which probes, between which times. Control events are never dropped. So
// the memory held is at most QueueBytes, plus one chunk being written and
// one being cut, plus the control events queued past the bound (see
// Backlog). All methods are safe for concurrent use.
type StreamWriter struct {
	mu   sync.Mutex
	out  io.Writer
	opt  StreamOptions
	cond *sync.Cond // the queue changed, or the stream closed: wakes the pump
	framer
	off      int64        // stream offset of the next chunk queued
	segs     []indexEntry // for the index; nil once past maxStreamSegs
	overSegs bool
	lastTime time.Time // latest event time written, stamps the drop record

	queue      [][]byte
	queued     int                  // bytes queued, the chunk being written included
	written    int64                // bytes the pipe took
	shedding   bool                 // dropping until the queue is half empty
	drops      schema.StreamDropped // since the last record of them
	dropsTotal uint64

	timer  *time.Timer
	armed  bool
	closed bool
	failed error         // the pipe's error, sticky
	done   chan struct{} // closed when the pump returns
	broken chan struct{} // closed when the pipe fails
}

// NewStreamWriter writes the preamble and header h to w (through the
// queue, so it does not wait for the pipe either) and returns the writer.
func NewStreamWriter(w io.Writer, h Header, o StreamOptions) (*StreamWriter, error) {
	if o.FlushEvery == 0 {
		o.FlushEvery = defaultStreamFlush
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultStreamQueue
	}
	if o.CloseWait <= 0 {
		o.CloseWait = defaultCloseWait
	}
	head, err := fileHead(h)
	if err != nil {
		return nil, err
	}
	enc, err := newSegmentEncoder()
	if err != nil {
		return nil, err
	}
	s := &StreamWriter{out: w, opt: o, framer: framer{enc: enc},
		done: make(chan struct{}), broken: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	s.timer = time.AfterFunc(time.Hour, s.tick)
	s.timer.Stop()
	s.enqueue(head)
	go s.pump()
	return s, nil
}

// Write encodes ev for the stream. It returns nil for an event dropped
// because the pipe is behind (Dropped counts them), the pipe's error once
// it failed (wrapped, as Err), an error after Close, and an error for an
// event that cannot be encoded or is over 1 MiB.
func (s *StreamWriter) Write(ev event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.errLocked(); err != nil {
		return err
	}
	if ev.Time.After(s.lastTime) {
		s.lastTime = ev.Time
	}
	if !event.IsControl(ev.Kind) && s.shed() {
		s.countDrop(ev)
		return nil
	}
	s.noteDropsLocked()
	if err := s.addLocked(ev); err != nil {
		return err
	}
	if len(s.pending) >= pendingMax {
		return s.cutLocked(false)
	}
	return nil
}

// Flush cuts what is buffered into a chunk and queues it for the pipe at
// once; it does not wait for the pipe to take it. Call it right after an
// event that must go out now (a stream.pong).
func (s *StreamWriter) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.errLocked(); err != nil {
		return err
	}
	s.shed()
	s.noteDropsLocked()
	return s.cutLocked(false)
}

// Close ends the segment and writes the index and trailer (the stream's
// clean end), then waits until the pipe has taken everything, or has taken
// nothing for CloseWait (then it gives up, and says so). It does not close
// the underlying writer. It returns the pipe's error if it failed.
func (s *StreamWriter) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.pipeErr()
	}
	if s.failed == nil {
		s.noteDropsForce()
		if err := s.cutLocked(true); err == nil {
			s.enqueue(s.tail())
		}
	}
	s.closed = true
	s.timer.Stop()
	s.cond.Broadcast()
	s.mu.Unlock()
	for {
		before := s.Written()
		select {
		case <-s.done:
			return s.pipeErr()
		case <-time.After(s.opt.CloseWait):
		}
		if s.Written() == before {
			return fmt.Errorf("sessions: stream: the pipe took nothing for %s; %d bytes not written", s.opt.CloseWait, s.Backlog())
		}
	}
}

// Err is the pipe's error once writing to it failed (EPIPE when the reader
// went away), else nil.
func (s *StreamWriter) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pipeErrLocked()
}

// Broken is closed when writing to the pipe fails.
func (s *StreamWriter) Broken() <-chan struct{} { return s.broken }

// Dropped is the number of events dropped so far because the pipe was
// behind.
func (s *StreamWriter) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropsTotal
}

// Backlog is the number of bytes cut into chunks that the pipe has not
// taken yet. Above StreamOptions.QueueBytes only control events are
// queued; a caller that makes control events on request (pongs) can wait
// for it to come down.
func (s *StreamWriter) Backlog() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued
}

// Written is the number of bytes the pipe has taken.
func (s *StreamWriter) Written() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

var errStreamClosed = errors.New("sessions: stream closed")

func (s *StreamWriter) errLocked() error {
	if s.failed != nil {
		return s.pipeErrLocked()
	}
	if s.closed {
		return errStreamClosed
	}
	return nil
}

func (s *StreamWriter) pipeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pipeErrLocked()
}

func (s *StreamWriter) pipeErrLocked() error {
	if s.failed == nil {
		return nil
	}
	return fmt.Errorf("sessions: stream: %w", s.failed)
}

// addLocked encodes ev and makes sure a chunk is cut within FlushEvery.
func (s *StreamWriter) addLocked(ev event.Event) error {
	if err := s.add(ev); err != nil {
		return err
	}
	if !s.armed && s.opt.FlushEvery > 0 {
		// Armed only while something waits: an idle stream wakes no one.
		s.armed = true
		s.timer.Reset(s.opt.FlushEvery)
	}
	return nil
}

func (s *StreamWriter) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	if s.errLocked() == nil {
		s.shed()
		s.noteDropsLocked()
		s.cutLocked(false) // an error is sticky; Write and Flush report it
	}
}

// shed says whether events that are not control events are being dropped:
// from when the queue reaches its bound until half of it is written.
func (s *StreamWriter) shed() bool {
	switch {
	case s.queued >= s.opt.QueueBytes:
		s.shedding = true
	case s.shedding && s.queued <= s.opt.QueueBytes/2:
		s.shedding = false
	}
	return s.shedding
}

func (s *StreamWriter) countDrop(ev event.Event) {
	d := &s.drops
	if d.Events == 0 || ev.Time.Before(d.Since) {
		d.Since = ev.Time
	}
	if ev.Time.After(d.Until) {
		d.Until = ev.Time
	}
	d.Events++
	s.dropsTotal++
	if d.ByProbe == nil {
		d.ByProbe = map[string]uint64{}
	}
	probe := ev.Probe
	if _, ok := d.ByProbe[probe]; !ok && len(d.ByProbe) >= maxDropProbes {
		probe = "other"
	}
	d.ByProbe[probe]++
}

// noteDropsLocked writes the record of the events dropped since the last
// one, once the queue has room again.
func (s *StreamWriter) noteDropsLocked() {
	if s.drops.Events == 0 || s.shedding {
		return
	}
	s.noteDropsForce()
}

func (s *StreamWriter) noteDropsForce() {
	if s.drops.Events == 0 {
		return
	}
	d := s.drops
	s.drops = schema.StreamDropped{}
	at := s.lastTime
	if at.IsZero() {
		at = time.Now().UTC()
	}
	s.addLocked(event.New(at, schema.ProbeRemote, &d)) // small and well-formed: cannot fail
}

// cutLocked cuts what is pending into a chunk and queues it. endSeg ends
// the segment (Close).
func (s *StreamWriter) cutLocked(endSeg bool) error {
	if len(s.pending) == 0 && !(endSeg && s.inSeg) {
		return nil
	}
	start, err := s.cut(endSeg, s.off)
	if err != nil {
		s.failLocked(err) // the encoder failed: nothing sensible can follow
		return s.pipeErrLocked()
	}
	switch {
	case s.overSegs:
	case start && len(s.segs) >= maxStreamSegs:
		s.overSegs, s.segs = true, nil
	case start:
		s.segs = append(s.segs, s.seg)
	default:
		s.segs[len(s.segs)-1] = s.seg
	}
	s.enqueue(s.chunk)
	return nil
}

// tail is the index and trailer that end a stream cleanly at s.off. Past
// maxStreamSegs it is a trailer alone, which points at no index.
func (s *StreamWriter) tail() []byte {
	if s.overSegs {
		return appendChunk(nil, chunkTrailer, 0, 0, 0, make([]byte, trailerPayload))
	}
	return indexAndTrailer(s.segs, s.off)
}

// enqueue queues a copy of b for the pump.
func (s *StreamWriter) enqueue(b []byte) {
	c := append([]byte(nil), b...)
	s.queue = append(s.queue, c)
	s.queued += len(c)
	s.off += int64(len(c))
	s.cond.Broadcast()
}

func (s *StreamWriter) failLocked(err error) {
	if s.failed != nil {
		return
	}
	s.failed = err
	s.queue, s.queued = nil, 0
	close(s.broken)
	s.cond.Broadcast()
}

// pump hands the queued chunks to the pipe, one Write each, until Close
// has been called and the queue is empty, or a write fails.
func (s *StreamWriter) pump() {
	defer close(s.done)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for len(s.queue) == 0 && !s.closed && s.failed == nil {
			s.cond.Wait()
		}
		if s.failed != nil || len(s.queue) == 0 {
			return
		}
		b := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.mu.Unlock()
		_, err := s.out.Write(b)
		s.mu.Lock()
		if err != nil {
			s.failLocked(err)
			return
		}
		s.queued -= len(b)
		s.written += int64(len(b))
		s.cond.Broadcast()
	}
}
