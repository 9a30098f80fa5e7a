package probes

// --signals host: every signal generated on the host, from the
// signal:signal_generate tracepoint, without ptrace. It never touches a
// process, and it sees SIGKILL and its sender, which ptrace cannot. It runs
// in a tracefs instance of its own, so it never disturbs other tracing;
// signals_tracefs_linux.go says how the instance and a tracefs mount of
// stakeout's are undone however stakeout ends.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/probes/ptrace"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// The --signals values: host-wide mode (the default when no --pid or
// --proc names a target), and the probe turned off.
const (
	SignalsHost = "host"
	SignalsOff  = "off"
)

// generateResults names signal_generate's res (enum trace_signal_result).
var generateResults = []string{"delivered", "ignored", "already pending", "overflow", "lost info"}

func (c Config) tracefsRoot() string { return c.SysPath("kernel", "tracing") }

func (c Config) hostCheck() error {
	if os.Geteuid() != 0 {
		return Unavailablef("host-wide mode needs root to use tracefs")
	}
	root := c.tracefsRoot()
	if _, err := os.Stat(filepath.Join(root, "events")); err == nil {
		if _, err := os.Stat(filepath.Join(root, "events", "signal", "signal_generate")); err != nil {
			return Unavailablef("tracefs at %s has no signal:signal_generate tracepoint", root)
		}
		return nil
	}
	fss, _ := os.ReadFile(c.ProcPath("filesystems"))
	if !bytes.Contains(fss, []byte("\ttracefs\n")) {
		return Unavailablef("this kernel has no tracefs (not in /proc/filesystems)")
	}
	if _, err := os.Stat(root); err != nil {
		return Unavailablef("no %s to mount tracefs on", root)
	}
	return nil
}

// runHost follows signal_generate until ctx ends.
func (p *signalsProbe) runHost(ctx context.Context, emit Emit) (err error) {
	cfg := p.cfg
	root := cfg.tracefsRoot()
	inst, err := cfg.makeInstance(root)
	if err != nil {
		return err
	}
	// Without a watchdog (it could not start) a kill -9 leaves the instance
	// to the next run; the probe itself works the same.
	wd, _ := cfg.startWatchdog(inst, root)
	defer func() {
		rmErr := removeInstance(inst)
		cfg.releaseTracefs(root)
		if wd != nil {
			wd.stop()
		}
		if rmErr != nil && err == nil {
			err = fmt.Errorf("removing tracefs instance: %w", rmErr)
		}
	}()
	filter := newHostFilter(cfg.Signals.Include, os.Getpid())
	if wd != nil {
		filter.own[wd.proc.Pid] = true
	}
	if err := enableGenerate(inst, filter); err != nil {
		return err
	}
	fd, err := unix.Open(filepath.Join(inst, "trace_pipe"), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tracefs trace_pipe: %w", err)
	}
	// Waited on in the netpoller, so an idle host costs no wake-ups; where
	// epoll refuses the file, poll(2) for at most 20 ms at a time.
	w := newReadyWaiter(fd, "trace_pipe")
	defer w.close()
	defer context.AfterFunc(ctx, w.interrupt)()
	p.hostPolled.Store(w.poller)
	return cfg.followPipe(ctx, fd, w, filter, &p.wakerPID, emit)
}

// makeInstance mounts tracefs at root if need be and makes stakeout's
// instance in it, returning the instance's directory. On an error, tracefs
// is left as it was found.
func (c Config) makeInstance(root string) (string, error) {
	for attempt := 0; ; attempt++ {
		if _, err := c.mountTracefs(root); err != nil {
			return "", err
		}
		c.clearStaleInstances(root)
		inst := filepath.Join(root, "instances", c.instanceName(os.Getpid()))
		err := os.Mkdir(inst, 0o700)
		if err == nil {
			return inst, nil
		}
		// Another stakeout unmounted tracefs between the look and the
		// mkdir: mount it again, once.
		if !errors.Is(err, os.ErrNotExist) || attempt > 0 {
			c.releaseTracefs(root)
			return "", fmt.Errorf("tracefs instance: %w", err)
		}
	}
}

// enableGenerate sizes the instance's buffer, filters and enables
// signal:signal_generate in it.
func enableGenerate(inst string, filter hostFilter) error {
	if err := os.WriteFile(filepath.Join(inst, "buffer_size_kb"), []byte(strconv.Itoa(instanceBufferKB)), 0); err != nil {
		return fmt.Errorf("tracefs buffer_size_kb: %w", err)
	}
	if expr := filter.kernelFilter(); expr != "" {
		// Dropped in the kernel, they never fill the ring or wake stakeout.
		// Should the kernel refuse the filter, they are dropped below.
		os.WriteFile(filepath.Join(inst, "events", "signal", "signal_generate", "filter"), []byte(expr), 0)
	}
	// CLOCK_MONOTONIC stamps, so each line's own time survives batching.
	if err := os.WriteFile(filepath.Join(inst, "trace_clock"), []byte("mono"), 0); err != nil {
		return fmt.Errorf("tracefs trace_clock: %w", err)
	}
	enable := filepath.Join(inst, "events", "signal", "signal_generate", "enable")
	if err := os.WriteFile(enable, []byte("1"), 0); err != nil {
		return fmt.Errorf("enabling signal:signal_generate: %w", err)
	}
	// trace_pipe's poll wakes a waiter once the buffer is buffer_percent
	// full (default 50) on kernels that apply it to trace_pipe; 0 wakes on
	// any event. Kernels without the file wake on any data anyway.
	os.WriteFile(filepath.Join(inst, "buffer_percent"), []byte("0"), 0)
	return nil
}

// followPipe reads trace_pipe (fd, waited on through w) until ctx ends,
// and emits each signal the filter wants, but none sent to waker: the pid
// of the waker of the tracer an Attach started (0: none yet), whose stops
// only wake that tracer.
func (c Config) followPipe(ctx context.Context, fd int, w *readyWaiter, filter hostFilter, waker *atomic.Int64, emit Emit) error {
	senders := newSenders(c)
	buf := make([]byte, 64<<10)
	var partial []byte
	gathered := 0 // bytes read since the last wait
	for ctx.Err() == nil {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			if gathered > 0 {
				// A busy host generates signals all the time: after a
				// read, let the next ones gather instead of waking for
				// each (gatherPause). Events keep the tracepoint's own
				// time.
				pause(ctx, gatherPause(gathered))
				gathered = 0
				continue
			}
			w.wait(20 * time.Millisecond)
			continue
		}
		if err == nil && n == 0 { // EOF: tracing turned off under us; look again later
			pause(ctx, 20*time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("reading trace_pipe: %w", err)
		}
		gathered += n
		partial = append(partial, buf[:n]...)
		for {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			if s, ts, ok := parseGenerate(string(partial[:i])); ok && filter.wantSignal(s.Signo) {
				c.hostPIDs(s, senders)
				if filter.wantTarget(s.PID) && int64(s.PID) != waker.Load() {
					emit(event.New(monoToWall(ts), signalsName, s))
				}
			}
			partial = partial[i+1:]
		}
		partial = append([]byte(nil), partial...)
	}
	return ctx.Err()
}

// pause waits d, or until ctx ends.
// After a read, the reader waits before the next one and reads what came
// meanwhile in one go: the first signal of a burst is read at once, the
// rest a batch at a time. While little comes (the SIGCHLDs of a host's
// shells, a few dozen a second) it waits gatherQuiet, so they cost the
// process about ten wake-ups a second rather than one or two each; once a
// gather brings gatherBusyBytes or more it waits only gatherBusy, as it
// always did, so a storm is drained long before the instance's per-CPU
// ring (256 KiB, thousands of signals) could fill. Detectors go by the
// kernel's timestamps, so a batch's wait changes no finding.
const (
	gatherQuiet     = 100 * time.Millisecond
	gatherBusy      = 20 * time.Millisecond
	gatherBusyBytes = 16 << 10
)

func gatherPause(gathered int) time.Duration {
	if gathered >= gatherBusyBytes {
		return gatherBusy
	}
	return gatherQuiet
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// hostPIDs turns the tracepoint's thread ids into process ids, and adds
// what /proc says about the sender.
func (c Config) hostPIDs(s *schema.Signal, ss *senders) {
	if g, ok := ss.targetTgid(s.TID, s.Comm); ok {
		s.PID = g
	}
	if s.SenderPID != 0 {
		if si := ss.lookup(s.SenderPID); si != nil {
			s.SenderPID = si.tgid
			si.apply(s)
		}
	}
}

func monoToWall(ts float64) time.Time {
	var now unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
	ago := time.Duration(event.SatInt64(float64(now.Nano()) - ts*1e9)) // a garbled stamp must not wrap
	return time.Now().Add(-ago)
}

// parseGenerate reads one trace_pipe line such as
//
//	logrotate-4410  [001] d..1.  4316.222271: signal_generate: sig=1 errno=0 code=0 comm=gimli pid=812 grp=1 res=0
//
// The task before "[cpu]" is the one that was running when the signal was
// generated (comm-tid; comm may hold spaces and dashes, so the tid is after
// the last dash). That is the sender when a process sent the signal
// (kill, tgkill, sigqueue: SI_USER, SI_TKILL, SI_QUEUE), as ptrace's
// siginfo would say; for the kernel's own signals (timers, faults, the
// tty, SIGCHLD) it is whichever task the kernel was running, so no sender
// is recorded.
func parseGenerate(line string) (*schema.Signal, float64, bool) {
	head, body, ok := strings.Cut(line, ": signal_generate: ")
	if !ok {
		return nil, 0, false
	}
	br := strings.LastIndex(head, " [")
	colon := strings.LastIndexByte(head, ' ')
	if br < 0 || colon < br {
		return nil, 0, false
	}
	ts, err := strconv.ParseFloat(head[colon+1:], 64)
	if err != nil {
		return nil, 0, false
	}
	task := strings.TrimSpace(head[:br])
	dash := strings.LastIndexByte(task, '-')
	if dash < 0 {
		return nil, 0, false
	}
	sender, _ := strconv.Atoi(task[dash+1:])
	// comm= may hold spaces: it runs up to " pid=".
	pre, rest, ok := strings.Cut(body, " comm=")
	comm, post, ok2 := strings.Cut(rest, " pid=")
	if !ok || !ok2 {
		return nil, 0, false
	}
	// The fields are "key=value", before comm= and after its pid= (the
	// pid's value first); a field given twice counts its last. No map:
	// this runs for every signal on the host.
	var pid, sig, code, res int
	set := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "pid":
			pid = n
		case "sig":
			sig = n
		case "code":
			code = n
		case "res":
			res = n
		}
	}
	for kv := range strings.FieldsSeq(pre) {
		set(kv)
	}
	// As if "pid=" were put back before post: its first word is the pid,
	// unless post starts with a space (then the pid is empty).
	r, _ := utf8.DecodeRuneInString(post)
	first := post != "" && !unicode.IsSpace(r)
	for kv := range strings.FieldsSeq(post) {
		if first {
			first = false
			pid, _ = strconv.Atoi(kv)
			continue
		}
		set(kv)
	}
	s := &schema.Signal{PID: pid, TID: pid, Comm: comm, Signo: sig, Signal: schema.SignalName(sig),
		Code: ptrace.CodeName(sig, int32(code)), Source: "tracefs"}
	if res >= 0 && res < len(generateResults) {
		s.Result = generateResults[res]
	}
	if code := int32(code); sender > 0 && ptrace.SentByProcess(code) {
		s.SenderPID, s.SenderComm = sender, task[:dash]
	}
	return s, ts, true
}
