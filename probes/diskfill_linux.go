package probes

// The diskfill probe: space and inodes of every real filesystem from
// statfs(2), how fast each fills and when it will be full (diskfill_trend.go),
// who writes to it and which deleted files still hold space on it
// (diskfill_writers_linux.go).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/pflag"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

const diskFillName = schema.ProbeDiskfill

var diskFillSpec = Spec{
	Name: diskFillName,
	Help: "space and inodes per filesystem: fill rate, time to full, who writes, deleted files held open",
	Flags: func(fs *pflag.FlagSet, cfg *Config) {
		fs.StringArrayVar(&cfg.DiskFill.Mounts, "mount", nil,
			"diskfill: watch only the filesystem holding `PATH` (repeatable; default: every real, writable filesystem)")
	},
	New:      func(cfg Config) Probe { return newDiskFill(cfg) },
	Validate: validateDiskFill,
}

// validateDiskFill fails fast on a --mount on no watchable filesystem; with
// no --mount there is nothing to check (a host without mountinfo makes the
// probe unavailable, not the command fail).
func validateDiskFill(cfg Config) error { return newDiskFill(cfg).validate() }

func (p *diskFill) validate() error {
	if len(p.cfg.DiskFill.Mounts) == 0 {
		return nil
	}
	for _, path := range p.cfg.DiskFill.Mounts {
		if err := p.stat(path); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--mount %s: no such file or directory", path)
		}
	}
	_, err := p.mounts()
	return err
}

// statWithin stats path but gives up after d (nil then): the path may be on
// a hung NFS mount, and that is no reason to refuse it.
func statWithin(path string, d time.Duration) error {
	done := make(chan error, 1)
	go func() { _, err := os.Stat(path); done <- err }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return nil
	}
}

const (
	mountinfoMaxLines = 65536
	remountEvery      = 10 // samples between re-reads of mountinfo
)

// statfsResult is one statfs answer, in bytes and inodes.
type statfsResult struct {
	size, free, avail  uint64
	inodes, inodesFree uint64
	err                error
}

type diskFill struct {
	cfg    Config
	now    func() time.Time
	statfs func(path string) statfsResult
	stat   func(path string) error // does a --mount path exist (nil if it may)
}

func newDiskFill(cfg Config) *diskFill {
	return &diskFill{cfg: cfg, now: time.Now, statfs: statfsPath,
		stat: func(path string) error { return statWithin(path, time.Second) }}
}

func statfsPath(path string) statfsResult {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return statfsResult{err: err}
	}
	bs := uint64(st.Frsize) // f_blocks and friends count fragments
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return statfsResult{size: st.Blocks * bs, free: st.Bfree * bs, avail: st.Bavail * bs,
		inodes: st.Files, inodesFree: st.Ffree}
}

// mounts reads mountinfo and picks the filesystems to watch.
func (p *diskFill) mounts() ([]watched, error) {
	path := p.cfg.ProcPath("self", "mountinfo")
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Unavailablef("no %s: procfs is not mounted there", path)
		}
		return nil, Unavailablef("cannot read %s: %v", path, err)
	}
	defer f.Close()
	ms, err := parseMountinfo(f, mountinfoMaxLines)
	if err != nil {
		return nil, fmt.Errorf("diskfill: %s: %w", path, err)
	}
	return selectMounts(ms, p.cfg.DiskFill.Mounts)
}

// Check reads mountinfo once, so "unavailable" says why before Run. A
// --mount on nothing is refused here too (in the live TUI, where Validate
// does not run): the longest mount prefix of a missing path is always /,
// which would be watched in its place without a word.
func (p *diskFill) Check() error {
	if len(p.cfg.DiskFill.Mounts) > 0 {
		if err := p.validate(); err != nil {
			var u *Unavailable
			if errors.As(err, &u) {
				return err
			}
			return &Unavailable{Reason: err.Error()}
		}
	}
	ws, err := p.mounts()
	if err != nil {
		return err
	}
	if len(ws) == 0 {
		return Unavailablef("no writable filesystem in %s", p.cfg.ProcPath("self", "mountinfo"))
	}
	return nil
}

// fsState is what the probe keeps per filesystem, keyed by device.
type fsState struct {
	w       watched
	pending chan statfsResult // a statfs still outstanding: at most one per filesystem
	last    *statfsResult
	bytes   *schema.FillTrend
	inodes  *schema.FillTrend
}

// Run samples every interval. statfs runs in its own goroutine per
// filesystem and is waited for at most statfsTimeout: a hung NFS server
// blocks that goroutine, not the probe. The filesystem is then marked stale
// and no new statfs is started for it until the old one returns.
func (p *diskFill) Run(ctx context.Context, emit Emit) error {
	pl := newPoller(p.cfg)
	// Every step samples at once, and any error ends the probe: mountinfo
	// unreadable at the start (later it keeps the last list), or ctx done
	// while statfs was waited for.
	pl.atOnce, pl.giveUpAfter = true, 1
	timeout := min(max(pl.every/2, 50*time.Millisecond), 2*time.Second)
	states := map[string]*fsState{}
	procs := newProcScanner(p.cfg.Procfs)
	var ws []watched
	start, prevAt := p.now(), time.Time{}
	n := 0
	return pl.run(ctx, func() error {
		if n%remountEvery == 0 {
			fresh, err := p.mounts()
			if err != nil && ws == nil {
				return err
			}
			if err == nil {
				ws = fresh
			}
		}
		n++
		at := p.now()
		fss := p.sample(ws, states, timeout, procs, at.Sub(start).Seconds())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		iv := 0.0
		if !prevAt.IsZero() {
			iv = at.Sub(prevAt).Seconds()
		}
		emit(event.New(at, diskFillName, &schema.DiskUsage{IntervalS: iv, Filesystems: fss}))
		prevAt = at
		return nil
	})
}

// sample statfs's every filesystem, updates the trends and attaches writers
// and deleted files. t is seconds since the probe started.
func (p *diskFill) sample(ws []watched, states map[string]*fsState, timeout time.Duration, procs *procScanner, t float64) []schema.Filesystem {
	p.startStatfs(ws, states)
	out, idx, stale := collectStatfs(ws, states, timeout, t)
	idx.skip = func(i int) bool { return stale[i] }
	busy := false
	for i := range out {
		busy = busy || (!stale[i] && out[i].Filling())
	}
	writers, deleted := procs.sample(t, idx, len(out), busy)
	for i := range out {
		out[i].Writers, out[i].DeletedOpen = writers[i], deleted[i]
	}
	forgetUnmounted(ws, states)
	return out
}

// startStatfs gives each filesystem in ws a state, and a statfs unless one
// is still outstanding: done here and now on a filesystem whose statfs
// answers from counters in memory (statfsInline), in a goroutine of its own
// on any other (a network or FUSE filesystem, whose statfs may wait on a
// server for ever). A goroutine and its deadline each second cost the
// runtime a thread wake-up or two per filesystem, on a host where nothing
// else happens.
func (p *diskFill) startStatfs(ws []watched, states map[string]*fsState) {
	for _, w := range ws {
		st := states[w.Dev]
		if st == nil {
			st = &fsState{bytes: schema.NewFillTrend(), inodes: schema.NewFillTrend()}
			states[w.Dev] = st
		}
		st.w = w
		if st.pending == nil {
			ch := make(chan statfsResult, 1)
			path := w.Point
			if statfsInline[w.FSType] {
				ch <- p.statfs(path)
			} else {
				go func() { ch <- p.statfs(path) }()
			}
			st.pending = ch
		}
	}
}

// statfsInline are the filesystems whose statfs(2) reads the superblock's
// counters in memory and does no I/O (ext4 and xfs read a project quota
// from disk only when the mount point's own directory has project
// inheritance under enforced project quotas), so it cannot hang the probe.
var statfsInline = map[string]bool{
	"ext2": true, "ext3": true, "ext4": true, "xfs": true, "tmpfs": true,
	"btrfs": true, "f2fs": true, "vfat": true, "exfat": true,
}

// collectStatfs waits at most timeout, in all, for the statfs answers and
// lists the filesystems in ws order: a filesystem whose answer is late
// shows its last one, marked stale (stale[i] for out[i]), and one never
// answered is left out. idx maps mount ids to positions in out. The
// deadline's timer starts only if an answer is not in yet.
func collectStatfs(ws []watched, states map[string]*fsState, timeout time.Duration, t float64) (out []schema.Filesystem, idx fsIndex, stale []bool) {
	var deadline *time.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	expired := false
	out = make([]schema.Filesystem, 0, len(ws))
	idx = fsIndex{byMnt: map[int]int{}}
	for _, w := range ws {
		st := states[w.Dev]
		var fresh bool
		if !expired && deadline == nil && len(st.pending) == 0 {
			deadline = time.NewTimer(timeout)
		}
		var c <-chan time.Time
		if deadline != nil {
			c = deadline.C
		}
		fresh, expired = st.await(c, expired)
		if st.last == nil {
			continue // never answered, or gone (unmounted since mountinfo was read)
		}
		r := *st.last
		if r.size == 0 && r.inodes == 0 {
			continue // reports no capacity at all (lxcfs, some FUSE): nothing can fill
		}
		for _, id := range w.ids {
			idx.byMnt[id] = len(out)
		}
		stale = append(stale, !fresh)
		out = append(out, st.filesystem(w, r, fresh, t))
	}
	return out, idx, stale
}

// await takes st's statfs answer if it comes before deadline fires, or,
// once it has fired (expired, which await returns updated), if it came
// meanwhile. fresh says an answer was taken.
func (st *fsState) await(deadline <-chan time.Time, expired bool) (fresh, stillExpired bool) {
	if !expired {
		select {
		case r := <-st.pending:
			st.take(r)
			return true, false
		case <-deadline:
			expired = true
		}
	}
	select { // answered meanwhile?
	case r := <-st.pending:
		st.take(r)
		return true, expired
	default:
	}
	return false, expired
}

// take records a statfs answer; a failed one keeps the last good one.
func (st *fsState) take(r statfsResult) {
	st.pending = nil
	if r.err == nil {
		st.last = &r
	}
}

// filesystem is what statfs answer r says of w, st's filesystem; a fresh
// answer also feeds st's trends, at t seconds since the probe started.
func (st *fsState) filesystem(w watched, r statfsResult, fresh bool, t float64) schema.Filesystem {
	fsys := schema.Filesystem{Mount: w.Point, Device: w.Source, FSType: w.FSType, Stale: !fresh,
		SizeBytes: r.size, UsedBytes: r.size - min(r.free, r.size), AvailBytes: r.avail, FreeBytes: r.free,
		InodesTotal: r.inodes, InodesUsed: r.inodes - min(r.inodesFree, r.inodes), InodesFree: r.inodesFree}
	if fresh {
		fsys.Bytes = st.bytes.Add(t, float64(fsys.UsedBytes), float64(fsys.AvailBytes))
		if r.inodes > 0 { // btrfs and some others report no inode limit
			fsys.Inodes = st.inodes.Add(t, float64(fsys.InodesUsed), float64(fsys.InodesFree))
		}
	}
	return fsys
}

// forgetUnmounted drops the states of filesystems no longer in ws (their
// statfs may still be pending; the buffered channel lets that goroutine
// finish on its own).
func forgetUnmounted(ws []watched, states map[string]*fsState) {
	if len(states) <= len(ws) {
		return
	}
	keep := map[string]bool{}
	for _, w := range ws {
		keep[w.Dev] = true
	}
	for dev := range states {
		if !keep[dev] {
			delete(states, dev)
		}
	}
}

func init() { register(diskFillSpec) }
