package probes

// The kmsg probe follows the kernel log through /dev/kmsg, one record per
// read(2), from --kmsg-backlog before the session on.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

const kmsgName = schema.ProbeKmsg

var kmsgSpec = Spec{
	Name: kmsgName,
	Help: "the kernel log (/dev/kmsg): segfaults, OOM kills, hung tasks, I/O errors, conntrack drops",
	Flags: func(fs *pflag.FlagSet, cfg *Config) {
		fs.DurationVar(&cfg.Kmsg.Backlog, "kmsg-backlog", 10*time.Minute,
			"kmsg: also record kernel log lines from this long before the session")
	},
	New: func(cfg Config) Probe { return newKmsg(cfg) },
}

// kmsgBufSize holds any record: the kernel refuses (EINVAL) a read smaller
// than the record, and its own limit is CONSOLE_EXT_LOG_MAX, 8 KiB.
const kmsgBufSize = 8192

// kmsgPoll bounds how long Run waits in poll(2) before looking at ctx, so a
// stop never waits on a quiet kernel log. It is only the fallback: /dev/kmsg
// is waited on in the netpoller, and a stop interrupts that wait.
const kmsgPoll = 200 * time.Millisecond

type kmsgProbe struct {
	cfg  Config
	now  func() time.Time
	boot func() time.Time // wall time of boot, to place kernel timestamps
}

func newKmsg(cfg Config) *kmsgProbe {
	return &kmsgProbe{cfg: cfg, now: time.Now, boot: bootWallTime}
}

func (p *kmsgProbe) path() string {
	dev := p.cfg.Kmsg.Dev
	if dev == "" {
		dev = "/dev"
	}
	return filepath.Join(dev, "kmsg")
}

// bootWallTime is now minus CLOCK_MONOTONIC, the clock printk stamps
// records with (it stops during suspend, as printk's does).
func bootWallTime() time.Time {
	var ts unix.Timespec
	now := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return now
	}
	return now.Add(-time.Duration(ts.Nano()))
}

func (p *kmsgProbe) Check() error {
	f, err := openOrExplain(p.path(), "this kernel has no /dev/kmsg (CONFIG_PRINTK off, or /dev not mounted)",
		"permission denied (run as root, or kernel.dmesg_restrict is 1)")
	if err != nil {
		return err
	}
	f.Close()
	return nil
}

// errCaughtUp says every record logged so far has been read.
var errCaughtUp = errors.New("kmsg: caught up")

// kmsgSource yields one record per call, errCaughtUp when there is none yet.
type kmsgSource interface {
	next() ([]byte, uint64, error) // record, records lost just before it, error
	wait(d time.Duration)          // until a record may be there, or d
	interrupt()                    // ends the current and every later wait
	close()
}

func (p *kmsgProbe) open() (kmsgSource, error) {
	st, err := os.Stat(p.path())
	if err != nil {
		return nil, err
	}
	if st.Mode().IsRegular() { // a fixture: one record per line
		f, err := os.Open(p.path())
		if err != nil {
			return nil, err
		}
		return &kmsgFile{f: f, r: bufio.NewReader(f)}, nil
	}
	fd, err := unix.Open(p.path(), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p.path(), Err: err}
	}
	return &kmsgDev{fd: fd, w: newReadyWaiter(fd, p.path()), buf: make([]byte, kmsgBufSize)}, nil
}

// Run reads the buffer from its oldest record, keeps those logged within
// the backlog, then follows new ones.
func (p *kmsgProbe) Run(ctx context.Context, emit Emit) error {
	src, err := p.open()
	if err != nil {
		return err
	}
	defer src.close()
	defer context.AfterFunc(ctx, src.interrupt)()
	start := p.now()
	boot := p.boot()
	cutoff := start.Add(-p.cfg.Kmsg.Backlog)
	live := false
	for ctx.Err() == nil {
		b, lost, err := src.next()
		if errors.Is(err, errCaughtUp) {
			live = true
			src.wait(kmsgPoll)
			continue
		}
		if err != nil {
			return err
		}
		rec, err := parseKmsgRecord(b)
		if err != nil {
			continue // one odd record must not stop the log
		}
		at := boot.Add(time.Duration(rec.TSUS) * time.Microsecond)
		if !live && at.Before(cutoff) {
			continue
		}
		var crash *schema.CrashFacts
		if live {
			at = p.now()
			// A crash's process and settings are only there to read now.
			if l, ok := schema.ParseKernelLine(rec.Text); ok && l.Segfault != nil {
				crash = p.crashFacts(l.Segfault)
			}
		}
		emit(event.New(at, kmsgName, &schema.Kmsg{
			Level: rec.level(), Priority: rec.Pri & 7, Facility: rec.facility(), Seq: rec.Seq,
			KernelUS: rec.TSUS, Text: rec.Text, Device: rec.Device, Subsystem: rec.Subsystem,
			Cont: rec.Cont, Backlog: !live, Lost: lost, Crash: crash,
		}))
	}
	return ctx.Err()
}

// kmsgDev is /dev/kmsg opened non-blocking: read(2) returns one record,
// EAGAIN when there is none, EPIPE when the next one was overwritten.
type kmsgDev struct {
	fd   int
	w    *readyWaiter // owns fd
	buf  []byte
	lost uint64
}

func (d *kmsgDev) next() ([]byte, uint64, error) {
	for {
		n, err := unix.Read(d.fd, d.buf)
		switch {
		case err == nil:
			lost := d.lost
			d.lost = 0
			return d.buf[:n], lost, nil
		case errors.Is(err, unix.EAGAIN):
			return nil, 0, errCaughtUp
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EPIPE):
			// The ring overwrote records we had not read; the next read
			// goes on from the oldest one left. How many is not known.
			d.lost++
		default:
			return nil, 0, &fs.PathError{Op: "read", Path: "kmsg", Err: err}
		}
	}
}

func (d *kmsgDev) wait(t time.Duration) { d.w.wait(t) }
func (d *kmsgDev) interrupt()           { d.w.interrupt() }
func (d *kmsgDev) close()               { d.w.close() }

// kmsgFile reads a fixture file of records, one per line (dictionary lines
// start with a space), and follows it as it grows.
type kmsgFile struct {
	f       *os.File
	r       *bufio.Reader
	partial []byte
	pending []byte // a record read ahead, waiting for its dictionary lines
}

func (k *kmsgFile) next() ([]byte, uint64, error) {
	for {
		line, err := k.r.ReadBytes('\n')
		if err == io.EOF {
			k.partial = append(k.partial, line...)
			if k.pending != nil { // a record at the end has no more dictionary
				rec := k.pending
				k.pending = nil
				return rec, 0, nil
			}
			return nil, 0, errCaughtUp
		}
		if err != nil {
			return nil, 0, err
		}
		if len(k.partial) > 0 {
			line = append(k.partial, line...)
			k.partial = nil
		}
		if bytes.HasPrefix(line, []byte{' '}) && k.pending != nil {
			k.pending = append(k.pending, line...)
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec := k.pending
		k.pending = line
		if rec != nil {
			return rec, 0, nil
		}
	}
}

func (k *kmsgFile) wait(t time.Duration) { time.Sleep(min(t, 20*time.Millisecond)) }
func (k *kmsgFile) interrupt()           {}
func (k *kmsgFile) close()               { k.f.Close() }

func init() { register(kmsgSpec) }
