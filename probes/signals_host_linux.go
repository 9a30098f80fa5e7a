package probes

// --signals host: every signal generated on the host, from the
// signal:signal_generate tracepoint, without ptrace. It never touches a
// process, and it sees SIGKILL and its sender, which ptrace cannot. It runs
// in a tracefs instance of its own, so it never disturbs other tracing, and
// it unmounts tracefs on exit if it mounted it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"golang.org/x/sys/unix"
)

// SignalsHost is the --signals value for host-wide mode.
const SignalsHost = "host"

// generateResults names signal_generate's res (enum trace_signal_result).
var generateResults = []string{"delivered", "ignored", "already pending", "overflow", "lost info"}

func (c Config) tracefsRoot() string { return c.SysPath("kernel", "tracing") }

func (c Config) hostCheck() error {
	if os.Geteuid() != 0 {
		return Unavailablef("--signals host needs root to use tracefs")
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
	root := p.cfg.tracefsRoot()
	if _, err := os.Stat(filepath.Join(root, "events")); err != nil {
		if err := unix.Mount("nodev", root, "tracefs", 0, ""); err != nil {
			return fmt.Errorf("mounting tracefs at %s: %w", root, err)
		}
		defer unix.Unmount(root, 0)
	}
	clearStaleInstances(root, p.cfg.Procfs)
	inst := filepath.Join(root, "instances", "stakeout-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(inst, 0o700); err != nil {
		return fmt.Errorf("tracefs instance: %w", err)
	}
	if err := os.WriteFile(filepath.Join(inst, "buffer_size_kb"), []byte(strconv.Itoa(instanceBufferKB)), 0); err != nil {
		os.Remove(inst)
		return fmt.Errorf("tracefs buffer_size_kb: %w", err)
	}
	enable := filepath.Join(inst, "events", "signal", "signal_generate", "enable")
	defer func() {
		os.WriteFile(enable, []byte("0"), 0)
		if rmErr := os.Remove(inst); rmErr != nil && err == nil {
			err = fmt.Errorf("removing tracefs instance: %w", rmErr)
		}
	}()
	// CLOCK_MONOTONIC stamps, so each line's own time survives batching.
	if err := os.WriteFile(filepath.Join(inst, "trace_clock"), []byte("mono"), 0); err != nil {
		return fmt.Errorf("tracefs trace_clock: %w", err)
	}
	if err := os.WriteFile(enable, []byte("1"), 0); err != nil {
		return fmt.Errorf("enabling signal:signal_generate: %w", err)
	}
	// trace_pipe's poll wakes a waiter once the buffer is buffer_percent
	// full (default 50) on kernels that apply it to trace_pipe; 0 wakes on
	// any event. Kernels without the file wake on any data anyway.
	os.WriteFile(filepath.Join(inst, "buffer_percent"), []byte("0"), 0)
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
	buf := make([]byte, 64<<10)
	var partial []byte
	gathered := false // read something since the last wait
	for ctx.Err() == nil {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			if gathered {
				// A busy host generates signals all the time (every Go
				// program's preemption SIGURG): after a read, let the next
				// ones gather for 20 ms instead of waking for each. Events
				// keep the tracepoint's own time.
				gathered = false
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
				continue
			}
			w.wait(20 * time.Millisecond)
			continue
		}
		if err == nil && n == 0 { // EOF: tracing turned off under us; look again later
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("reading trace_pipe: %w", err)
		}
		gathered = true
		partial = append(partial, buf[:n]...)
		for {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			if s, ts, ok := parseGenerate(string(partial[:i])); ok {
				p.cfg.hostPIDs(s)
				emit(event.New(monoToWall(ts), signalsName, s))
			}
			partial = partial[i+1:]
		}
		partial = append([]byte(nil), partial...)
	}
	return ctx.Err()
}

// hostPIDs turns the tracepoint's thread ids into process ids.
func (c Config) hostPIDs(s *Signal) {
	if g, err := c.statusInt(s.TID, "Tgid"); err == nil {
		s.PID = g
	}
	if s.SenderPID != 0 {
		if g, err := c.statusInt(s.SenderPID, "Tgid"); err == nil {
			s.SenderPID = g
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
// The task before "[cpu]" is the sender (comm-tid; comm may hold spaces and
// dashes, so the tid is after the last dash).
func parseGenerate(line string) (*Signal, float64, bool) {
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
	f := map[string]int{}
	for _, kv := range strings.Fields(pre + " pid=" + post) {
		k, v, _ := strings.Cut(kv, "=")
		f[k], _ = strconv.Atoi(v)
	}
	s := &Signal{PID: f["pid"], TID: f["pid"], Comm: comm, Signo: f["sig"], Signal: SignalName(f["sig"]),
		Code: codeName(f["sig"], int32(f["code"])), Source: "tracefs"}
	if r := f["res"]; r >= 0 && r < len(generateResults) {
		s.Result = generateResults[r]
	}
	if sender > 0 { // 0: the idle task or an interrupt (timers, the tty)
		s.SenderPID, s.SenderComm = sender, task[:dash]
	}
	return s, ts, true
}
