// Package remote is the local side of a multi-host session (issue 17): for
// each --ssh target it runs `stakeout stream` on that host through the
// system ssh client (copying this binary over the same connection when
// the host has no stakeout of this version), reads the event stream,
// labels every event with the host, moves its time onto the local clock,
// and reconnects when the link drops, saying so with host.lost and
// host.back findings. A Source is one host, and is an engine.Source.
package remote

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// Options are one host's.
type Options struct {
	Target Target
	// Version is this binary's: a stakeout in the host's PATH that says
	// exactly this version is run there; otherwise this binary is copied.
	// "dev" (an unversioned build) is always copied.
	Version string
	// SSH is the ssh command line (SSHCommand); nil: ["ssh"].
	SSH []string
	// StreamArgs are the flags for `stakeout stream` (the probe flags).
	StreamArgs []string
	// ClockSkew, a test hook, makes the stream add this to every time it
	// writes (--clock-skew): a host whose clock is off.
	ClockSkew time.Duration
	// CorruptCopy, a test hook, damages one byte of the copy on its way.
	CorruptCopy bool
	// Executable is the binary to copy; "": this one.
	Executable string
	// GOARCH is the copy's architecture; "": this one's.
	GOARCH string
	// PingEvery is how often the clock is estimated again; 0: a minute.
	PingEvery time.Duration
	// Pings is how many pings an estimate takes (the one with the
	// shortest round trip counts); 0: 5.
	Pings int
}

const (
	minBackoff  = time.Second
	maxBackoff  = 30 * time.Second
	pongTimeout = 5 * time.Second
	holdMax     = 1 << 16 // events held back while the first clock estimate is made
)

func (o *Options) streamArgs() []string {
	var a []string
	if o.ClockSkew != 0 {
		a = append(a, "--clock-skew", o.ClockSkew.String())
	}
	return append(a, o.StreamArgs...)
}

func (o *Options) arch() string {
	if o.GOARCH != "" {
		return o.GOARCH
	}
	return runtime.GOARCH
}

func (o *Options) binary() (path, sum string, size int64, err error) {
	path = o.Executable
	if path == "" {
		if path, err = selfExecutable(); err != nil {
			return "", "", 0, err
		}
	}
	bi, err := hashFile(path)
	return path, bi.sum, bi.size, err
}

// Source is one remote host's stream, as an engine.Source.
type Source struct {
	o     Options
	label string
	first *conn // made by Dial, taken by Run
	how   string
}

// Dial connects to o.Target and starts its stream, so a host that can't
// be reached, a refused key or a copy that can't run is a one-line error
// before the session starts. The error begins "--ssh TARGET:".
func Dial(ctx context.Context, o Options) (*Source, error) {
	if o.SSH == nil {
		o.SSH = []string{"ssh"}
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if err := applyTestEnv(&o); err != nil {
		return nil, err
	}
	c, err := dial(ctx, &o)
	if err != nil {
		return nil, err
	}
	return &Source{o: o, label: o.Target.Host, first: c, how: c.how}, nil
}

// Host is the label the host's events carry.
func (s *Source) Host() string { return s.label }

// How says how the stream was started on the first connect: "installed
// PATH" (a stakeout of this version in the host's PATH) or "copied".
func (s *Source) How() string { return s.how }

// Close ends a Source that Run never took (another host failed to
// connect, and the session does not start).
func (s *Source) Close() {
	if s.first != nil {
		s.first.close(closeGrace)
		s.first = nil
	}
}

// Check: a dialled source can run.
func (s *Source) Check() error { return nil }

// Run forwards the host's events until ctx is done; when the stream ends
// before then, it raises host.lost and connects again, 1 s after, then 2,
// 4… up to 30 s apart, and raises host.back (clearing host.lost) once the
// stream runs again. On ctx done it closes the stream's stdin, forwards
// what the stream still sends while it stops (a few seconds at most), and
// kills ssh if it has not ended by then.
func (s *Source) Run(ctx context.Context, emit func(event.Event)) error {
	c := s.first
	s.first = nil
	backoff := minBackoff
	var down *outage
	for {
		if c != nil {
			if down != nil {
				s.back(emit, down)
				down = nil
			}
			why := s.serve(ctx, c, emit)
			if ctx.Err() != nil {
				return nil
			}
			down = &outage{since: time.Now()}
			s.lost(emit, down, why)
			c, backoff = nil, minBackoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
		var err error
		o := s.again(down)
		if c, err = dial(ctx, &o); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.stillLost(emit, down, err)
		}
	}
}

// again is what a reconnect runs: the same stream, but its kernel log
// reaching back only over the outage (and a few seconds before it), not
// the whole backlog the first connect read. Those lines were forwarded
// already, and the host's detectors would see them twice: a kernel
// condition cleared since would be raised a second time. The flag comes
// after the user's, so it is the one that counts.
func (s *Source) again(d *outage) Options {
	o := s.o
	if d == nil {
		return o
	}
	back := (time.Since(d.since) + reconnectOverlap).Round(time.Second)
	o.StreamArgs = append(slices.Clone(o.StreamArgs), "--kmsg-backlog="+back.String())
	return o
}

// reconnectOverlap is how far before the loss a reconnect's kernel log
// reaches back: lines written while the link was already failing.
const reconnectOverlap = 5 * time.Second

// outage is one time the host was lost.
type outage struct {
	since    time.Time
	attempts int
	lastErr  string
	sent     time.Time
}

func (s *Source) finding(name string, sev event.Severity, summary string, data schema.HostLostData) *event.Finding {
	return &event.Finding{Finding: name, Severity: sev, Summary: summary, Data: data, Key: name + " " + s.label}
}

func (s *Source) emitFinding(emit func(event.Event), f *event.Finding) {
	ev := event.New(time.Now(), schema.ProbeRemote, f)
	ev.Host = s.label
	emit(ev)
}

func (s *Source) lost(emit func(event.Event), d *outage, why string) {
	d.lastErr, d.sent = why, d.since
	f := s.finding(schema.FindingHostLost, event.Warn, fmt.Sprintf("host %s lost: %s", s.label, why),
		schema.HostLostData{Host: s.label, Target: s.o.Target.String(), Error: why})
	s.emitFinding(emit, f)
}

// stillLost updates host.lost when a reconnect fails for another reason
// than the last one said, at most every 10 s.
func (s *Source) stillLost(emit func(event.Event), d *outage, err error) {
	d.attempts++
	why := err.Error()
	if why == d.lastErr || time.Since(d.sent) < 10*time.Second {
		return
	}
	d.lastErr, d.sent = why, time.Now()
	f := s.finding(schema.FindingHostLost, event.Warn, fmt.Sprintf("host %s lost: %s", s.label, why),
		schema.HostLostData{Host: s.label, Target: s.o.Target.String(), Error: why})
	f.State, f.Since, f.Count = event.FindingUpdate, d.since.UTC(), 1
	s.emitFinding(emit, f)
}

// back clears host.lost and raises host.back.
func (s *Source) back(emit func(event.Event), d *outage) {
	down := time.Since(d.since)
	f := s.finding(schema.FindingHostLost, event.Warn, fmt.Sprintf("host %s lost: %s", s.label, d.lastErr),
		schema.HostLostData{Host: s.label, Target: s.o.Target.String(), Error: d.lastErr})
	f.State, f.Since, f.Count = event.FindingCleared, d.since.UTC(), 1
	s.emitFinding(emit, f)
	b := s.finding(schema.FindingHostBack, event.Info,
		fmt.Sprintf("host %s back after %s", s.label, down.Round(100*time.Millisecond)),
		schema.HostLostData{Host: s.label, Target: s.o.Target.String(), Down: down})
	s.emitFinding(emit, b)
}
