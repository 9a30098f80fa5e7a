package probes

// The iostat probe: per-device rates from /proc/diskstats, with the same
// definitions as sysstat's `iostat -x`.
//
// Why not prometheus/procfs's blockdevice package: it reads diskstats only
// through FS.ProcDiskstats(), which opens the file itself (its parser is
// unexported), so the house rule "parseX(io.Reader), tested on fixture
// files" cannot hold; its FS needs a /sys root to exist even though
// diskstats lives in /proc; it keeps every line of the file (no cap), and one
// malformed line fails the whole read. The parser here is ~40 lines; the
// tests check it field by field against blockdevice on the same fixtures.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const iostatName = schema.ProbeIOStat

var iostatSpec = Spec{
	Name: iostatName,
	Help: "per-device I/O like iostat -x: r/s, w/s, kB/s, await, aqu-sz, %util",
	Flags: func(fs *pflag.FlagSet, cfg *Config) {
		fs.BoolVar(&cfg.IOStat.AllDevices, "all-devices", false,
			"iostat: also show partitions and devices with no I/O in the interval")
	},
	New: func(cfg Config) Probe { return newIOStat(cfg) },
}

type ioStat struct {
	cfg   Config
	now   func() time.Time // read-time clock; tests make it step exactly
	stats *procFile        // diskstats, kept open by Run
}

func newIOStat(cfg Config) *ioStat { return &ioStat{cfg: cfg, now: time.Now} }

// Check opens and parses diskstats once, so that "unavailable" names the
// file and the reason instead of failing later inside Run.
func (p *ioStat) Check() error {
	path := p.cfg.ProcPath("diskstats")
	f, err := openOrExplain(path, "procfs is not mounted there, or the kernel keeps no block I/O statistics",
		"permission denied")
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := parseDiskstats(f); err != nil {
		return Unavailablef("cannot use %s: %v", path, err)
	}
	return nil
}

// Run samples diskstats every cfg.Interval and emits one IOSample per tick.
// The first read is only a baseline. Rates use the time between the two
// reads, not the nominal interval, so a late tick (time.Ticker drops ticks
// rather than queueing them) still gives correct rates. emit is the engine's
// non-blocking hand-off; Run never waits on anything but its ticker and ctx.
func (p *ioStat) Run(ctx context.Context, emit Emit) error {
	p.stats = newProcFile(p.cfg.ProcPath("diskstats"))
	defer p.stats.close()
	prev, prevAt, err := p.sample(nil)
	if err != nil {
		return err
	}
	// The read above was the baseline, and fatal; the steps wait for ticks
	// (atOnce unset), and only maxReadFailures of them in a row end Run.
	pl := newPoller(p.cfg)
	pl.giveUpAfter = maxReadFailures
	return pl.run(ctx, func() error {
		cur, at, err := p.sample(prev)
		if err != nil {
			// Keep prev: the next good read then reports the average over
			// the longer interval, which is still true.
			return err
		}
		if dt := at.Sub(prevAt); dt > 0 && ctx.Err() == nil {
			devs := shownDevices(ioRates(prev, cur, dt), p.cfg.IOStat.AllDevices)
			emit(event.New(at, iostatName, &schema.IOSample{IntervalS: dt.Seconds(), Devices: devs}))
		}
		prev, prevAt = cur, at
		return nil
	})
}

// sample reads diskstats, stamps it with the clock, and marks partitions.
func (p *ioStat) sample(prev diskSnapshot) (diskSnapshot, time.Time, error) {
	path := p.cfg.ProcPath("diskstats")
	if p.stats == nil {
		p.stats = newProcFile(path)
	}
	b, err := p.stats.read()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("iostat: %w", err)
	}
	snap, err := parseDiskstats(bytes.NewReader(b))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("iostat: %s: %w", path, err)
	}
	at := p.now()
	markPartitions(prev, snap, func(name string) bool { return isPartition(p.cfg.Sysfs, name) })
	return snap, at, nil
}

// diskCounters is one line of /proc/diskstats: the cumulative counters
// iostat -x needs (see Documentation/admin-guide/iostats.rst). Sectors are
// always 512 bytes there, whatever the device's sector size.
type diskCounters struct {
	Major, Minor uint32
	Name         string
	Partition    bool // from sysfs, not from diskstats

	ReadIOs, ReadSectors, ReadTicks    uint64 // fields 1, 3, 4
	WriteIOs, WriteSectors, WriteTicks uint64 // fields 5, 7, 8
	InFlight                           uint64 // field 9: a gauge, not a counter
	IOTicks                            uint64 // field 10: ms with I/O in flight
	TimeInQueue                        uint64 // field 11: ms × I/Os in flight
	DiscardIOs                         uint64 // field 12 (4.18+)
	FlushIOs                           uint64 // field 16 (5.5+)
}

// diskSnapshot is one read of diskstats, in the kernel's order.
type diskSnapshot []diskCounters

// Counters after major, minor and name: 11 since 2.6.25, 15 with discards
// since 4.18, 17 with flushes since 5.5. Older 4-counter partition lines
// (before 2.6.25) lack the timings and are skipped.
const (
	baseCounters    = 11
	discardCounters = 15
	flushCounters   = 17
)

var errDiskstatsFormat = errors.New("unrecognised diskstats format")

// parseDiskstats parses /proc/diskstats. Lines it cannot parse are skipped
// rather than failing the read, so a future kernel's odd line hides one
// device instead of the whole probe; a file with lines but none usable is an
// error. At most MaxIODevices devices are kept.
func parseDiskstats(r io.Reader) (diskSnapshot, error) {
	sc := bufio.NewScanner(r)
	var snap diskSnapshot
	lines := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		lines++
		if len(snap) >= schema.MaxIODevices {
			continue
		}
		if c, ok := parseDiskstatsLine(f); ok {
			snap = append(snap, c)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if lines > 0 && len(snap) == 0 {
		return nil, fmt.Errorf("%w: no line has %d, %d or %d counters after the device name",
			errDiskstatsFormat, baseCounters, discardCounters, flushCounters)
	}
	return snap, nil
}

func parseDiskstatsLine(f []string) (diskCounters, bool) {
	if len(f) < 3+baseCounters {
		return diskCounters{}, false
	}
	major, err1 := strconv.ParseUint(f[0], 10, 32)
	minor, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return diskCounters{}, false
	}
	var v [flushCounters]uint64
	n := min(len(f)-3, flushCounters)
	for i := 0; i < n; i++ {
		x, err := strconv.ParseUint(f[3+i], 10, 64)
		if err != nil {
			return diskCounters{}, false
		}
		v[i] = x
	}
	// Counters a kernel does not have stay 0, as if nothing ever happened.
	return diskCounters{
		Major: uint32(major), Minor: uint32(minor), Name: f[2],
		ReadIOs: v[0], ReadSectors: v[2], ReadTicks: v[3],
		WriteIOs: v[4], WriteSectors: v[6], WriteTicks: v[7],
		InFlight: v[8], IOTicks: v[9], TimeInQueue: v[10],
		DiscardIOs: v[11], FlushIOs: v[15],
	}, true
}

// markPartitions sets Partition on cur. A device seen in prev with the same
// major:minor keeps its answer, so sysfs is asked once per device.
func markPartitions(prev, cur diskSnapshot, isPart func(name string) bool) {
	known := make(map[string]diskCounters, len(prev))
	for _, c := range prev {
		known[c.Name] = c
	}
	for i := range cur {
		if p, ok := known[cur[i].Name]; ok && p.Major == cur[i].Major && p.Minor == cur[i].Minor {
			cur[i].Partition = p.Partition
			continue
		}
		cur[i].Partition = isPart(cur[i].Name)
	}
}

// isPartition asks sysfs whether name is a partition: a partition's
// class/block entry has a "partition" file. Without class/block it falls
// back to sysstat's rule (whole devices are listed in /sys/block), and with
// no sysfs at all it says no, so devices are shown rather than hidden.
// diskstats writes a "/" in names (cciss/c0d0) where sysfs has "!".
func isPartition(sysfs, name string) bool {
	sysName := strings.ReplaceAll(name, "/", "!")
	if exists(filepath.Join(sysfs, "class", "block", sysName)) {
		return exists(filepath.Join(sysfs, "class", "block", sysName, "partition"))
	}
	if exists(filepath.Join(sysfs, "block")) {
		return !exists(filepath.Join(sysfs, "block", sysName))
	}
	return false
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ioRates turns two snapshots dt apart into per-device rates, as iostat -x:
//
//	r/s     = Δreads / dt              rkB/s = Δread sectors × 512 / 1024 / dt
//	r_await = Δread ms / Δreads        (0 when nothing completed; w_* alike)
//	aqu-sz  = Δtime_in_queue ms / dt ms
//	%util   = Δio_ticks ms / dt ms × 100 (not capped, as sysstat)
//
// A device missing from prev, with another major:minor, or with any counter
// lower than before (removed and re-added, or a 32-bit counter wrapped; the
// two look the same from here) has no trustworthy delta and is left out for
// this interval. The result holds every other device, partitions and idle
// ones included; shownDevices filters.
func ioRates(prev, cur diskSnapshot, dt time.Duration) []schema.DeviceIO {
	secs := dt.Seconds()
	if secs <= 0 {
		return nil
	}
	ms := secs * 1000
	base := make(map[string]*diskCounters, len(prev))
	for i := range prev {
		base[prev[i].Name] = &prev[i]
	}
	out := make([]schema.DeviceIO, 0, len(cur))
	for _, c := range cur {
		p := base[c.Name]
		if p == nil || p.Major != c.Major || p.Minor != c.Minor || wentBack(p, &c) {
			continue
		}
		dr, dw := float64(c.ReadIOs-p.ReadIOs), float64(c.WriteIOs-p.WriteIOs)
		d := schema.DeviceIO{
			Device:    c.Name,
			Partition: c.Partition,
			RPerS:     dr / secs,
			WPerS:     dw / secs,
			RKBPerS:   float64(c.ReadSectors-p.ReadSectors) / 2 / secs,
			WKBPerS:   float64(c.WriteSectors-p.WriteSectors) / 2 / secs,
			AquSz:     float64(c.TimeInQueue-p.TimeInQueue) / ms,
			UtilPct:   float64(c.IOTicks-p.IOTicks) / ms * 100,
			InFlight:  c.InFlight,
		}
		if dr > 0 {
			d.RAwaitMs = float64(c.ReadTicks-p.ReadTicks) / dr
		}
		if dw > 0 {
			d.WAwaitMs = float64(c.WriteTicks-p.WriteTicks) / dw
		}
		completed := c.ReadIOs != p.ReadIOs || c.WriteIOs != p.WriteIOs ||
			c.DiscardIOs != p.DiscardIOs || c.FlushIOs != p.FlushIOs
		d.Stalled = !completed && p.InFlight > 0 && c.InFlight > 0
		out = append(out, d)
	}
	return out
}

// wentBack reports whether any cumulative counter decreased.
func wentBack(p, c *diskCounters) bool {
	return c.ReadIOs < p.ReadIOs || c.ReadSectors < p.ReadSectors || c.ReadTicks < p.ReadTicks ||
		c.WriteIOs < p.WriteIOs || c.WriteSectors < p.WriteSectors || c.WriteTicks < p.WriteTicks ||
		c.IOTicks < p.IOTicks || c.TimeInQueue < p.TimeInQueue ||
		c.DiscardIOs < p.DiscardIOs || c.FlushIOs < p.FlushIOs
}

// shownDevices drops partitions (their disk already counts their I/O) and
// devices that did nothing in the interval, unless all is set. A device
// with I/O in flight is never idle: a hung disk must stay on screen. The
// result is never nil, so a quiet interval records "devices": [].
func shownDevices(devs []schema.DeviceIO, all bool) []schema.DeviceIO {
	out := make([]schema.DeviceIO, 0, len(devs))
	for _, d := range devs {
		if all || (!d.Partition && !idle(d)) {
			out = append(out, d)
		}
	}
	return out
}

func idle(d schema.DeviceIO) bool {
	return d.RPerS == 0 && d.WPerS == 0 && d.RKBPerS == 0 && d.WKBPerS == 0 &&
		d.AquSz == 0 && d.UtilPct == 0 && d.InFlight == 0
}

func init() { register(iostatSpec) }
