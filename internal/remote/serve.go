package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// session is one connection's forwarding: the reader goroutine labels and
// moves every event, holding them back until the first clock estimate is
// made, and hands pongs to the pinger.
type session struct {
	s    *Source
	c    *conn
	emit func(event.Event)

	mu      sync.Mutex
	ready   bool          // the first estimate is made: events flow
	held    []event.Event // until then
	dropped int           // held back past holdMax
	offset  time.Duration // host clock minus local clock
	applied bool          // offset is an estimate (else events keep their time)
	pongs   map[uint64]chan time.Time
	nextID  uint64

	done    chan struct{} // the stream ended
	readErr error         // why, once done is closed
}

// serve forwards c's stream until it ends or ctx is done, and returns why
// it ended.
func (s *Source) serve(ctx context.Context, c *conn, emit func(event.Event)) string {
	ss := &session{s: s, c: c, emit: emit, pongs: map[uint64]chan time.Time{}, done: make(chan struct{})}
	go ss.read()
	ss.calibrate(ctx, true)
	every := s.o.PingEvery
	if every <= 0 {
		every = time.Minute
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			ss.calibrate(ctx, false)
		case <-ss.done:
			c.close(2 * time.Second)
			return ss.why()
		case <-ctx.Done():
			ss.stop()
			return ""
		}
	}
}

// stop ends the stream at the session's end: its stdin closes, what it
// still sends is forwarded for closeGrace, then ssh is killed.
func (ss *session) stop() {
	ss.c.closeStdin()
	select {
	case <-ss.done:
	case <-time.After(closeGrace):
		ss.c.kill()
		<-ss.done
	}
	ss.c.close(closeGrace)
	ss.release()
}

// why says why the stream ended: what ssh or the remote stakeout last said
// on stderr, else the stream's error.
func (ss *session) why() string {
	select {
	case <-ss.c.errDone:
	case <-time.After(time.Second):
	}
	if last := ss.c.stderr.last(); last != "" {
		return explain(last)
	}
	if ss.readErr == nil || errors.Is(ss.readErr, io.EOF) {
		return "the stream ended"
	}
	return ss.readErr.Error()
}

// read forwards the stream's events until it ends.
func (ss *session) read() {
	defer close(ss.done)
	for {
		ev, err := ss.c.stream.Next()
		if err != nil {
			ss.readErr = err
			return
		}
		if p, ok := event.As[schema.StreamPong](ev); ok {
			ss.pong(p.ID, ev.Time)
			continue
		}
		ss.mu.Lock()
		if ss.ready {
			ss.emit(ss.stamp(ev))
		} else if len(ss.held) < holdMax {
			ss.held = append(ss.held, ev)
		} else {
			ss.dropped++
		}
		ss.mu.Unlock()
	}
}

// stamp labels ev with its host and moves it onto the local clock,
// keeping the host's own reading. Called with mu held.
func (ss *session) stamp(ev event.Event) event.Event {
	ev.Host = ss.s.label
	if ss.applied {
		ev.HostTime = ev.Time
		ev.Time = ev.Time.Add(-ss.offset)
	}
	return ev
}

// release lets held events go (the stream ended before the estimate).
func (ss *session) release() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.flushHeld()
}

// flushHeld emits the held events, and marks the session ready. Called
// with mu held.
func (ss *session) flushHeld() {
	if ss.ready {
		return
	}
	ss.ready = true
	for _, ev := range ss.held {
		ss.emit(ss.stamp(ev))
	}
	ss.held = nil
}

func (ss *session) pong(id uint64, at time.Time) {
	ss.mu.Lock()
	ch := ss.pongs[id]
	delete(ss.pongs, id)
	ss.mu.Unlock()
	if ch != nil {
		ch <- at
	}
}

// calibrate estimates the host's clock offset: Pings pings one after the
// other, each `ping ID` on the stream's stdin answered by a stream.pong
// stamped with the host's clock; the offset of the one with the shortest
// round trip counts, taken as the pong's time minus the midpoint of its
// send and receive. first: also emit host_facts and let the held events go
// with the offset applied.
func (ss *session) calibrate(ctx context.Context, first bool) {
	n := ss.s.o.Pings
	if n <= 0 {
		n = 5
	}
	var best clockSample
	got := 0
	for range n {
		sm, ok := ss.ping(ctx)
		if !ok {
			break
		}
		got++
		if got == 1 || sm.rtt < best.rtt {
			best = sm
		}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := time.Now()
	if first {
		ss.emitLocal(now, ss.facts())
	}
	if got > 0 {
		ss.offset, ss.applied = best.offset, true
		ss.emitLocal(now, &schema.Clock{Host: ss.s.label, Offset: best.offset, RTT: best.rtt, Samples: got})
	}
	if first {
		ss.flushHeld()
	}
}

// emitLocal emits an event made here about the host.
func (ss *session) emitLocal(t time.Time, b event.Body) {
	ev := event.New(t, schema.ProbeRemote, b)
	ev.Host = ss.s.label
	ss.emit(ev)
}

func (ss *session) facts() *schema.HostFacts {
	h := ss.c.stream.Header()
	return &schema.HostFacts{Host: ss.s.label, Target: ss.s.o.Target.String(), Hostname: h.Hostname, Kernel: h.Kernel,
		BootTime: h.BootTime, CPUs: h.CPUs, MemoryBytes: h.MemoryBytes, StakeoutVersion: h.StakeoutVersion}
}

type clockSample struct {
	offset, rtt time.Duration
}

// ping sends one ping and waits for its pong; false when none came back.
func (ss *session) ping(ctx context.Context) (clockSample, bool) {
	ch := make(chan time.Time, 1)
	ss.mu.Lock()
	ss.nextID++
	id := ss.nextID
	ss.pongs[id] = ch
	ss.mu.Unlock()
	forget := func() {
		ss.mu.Lock()
		delete(ss.pongs, id)
		ss.mu.Unlock()
	}
	t0 := time.Now()
	if err := ss.c.send(fmt.Sprintf("ping %d\n", id)); err != nil {
		forget()
		return clockSample{}, false
	}
	timer := time.NewTimer(pongTimeout)
	defer timer.Stop()
	select {
	case at := <-ch:
		return sample(t0, time.Now(), at), true
	case <-timer.C:
	case <-ss.done:
	case <-ctx.Done():
	}
	forget()
	return clockSample{}, false
}

// sample is one ping's estimate: sent at t0 and answered at t1 on the
// local clock, stamped at on the host's.
func sample(t0, t1, at time.Time) clockSample {
	rtt := t1.Sub(t0)
	mid := t0.Add(rtt / 2).Round(0) // wall clock: the host's time has no monotonic part
	return clockSample{offset: at.Sub(mid), rtt: rtt}
}
