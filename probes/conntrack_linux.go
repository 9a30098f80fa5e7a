package probes

// The conntrack probe samples the connection-tracking table of stakeout's
// network namespace: its fill (nf_conntrack_count against _max) and the
// per-CPU counters that say packets were dropped because it was full.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

const conntrackName = schema.ProbeConntrack

var conntrackSpec = Spec{
	Name: conntrackName,
	Help: "connection-tracking table fill and drops (nf_conntrack_count/_max, /proc/net/stat/nf_conntrack)",
	New:  func(cfg Config) Probe { return newConntrack(cfg) },
}

type conntrackProbe struct {
	cfg Config
	now func() time.Time
	// The three files read every sample, kept open by Run (see procFile).
	count, max, stat *procFile
}

func newConntrack(cfg Config) *conntrackProbe { return &conntrackProbe{cfg: cfg, now: time.Now} }

func (p *conntrackProbe) countPath() string {
	return p.cfg.ProcPath("sys", "net", "netfilter", "nf_conntrack_count")
}

// notLoaded is the reason shown while the table does not exist. Loading
// nf_conntrack during a session (`iptables -t nat -L` does) is exactly the
// SoundCloud outage, so Run keeps looking instead of giving up.
func (p *conntrackProbe) notLoaded() error {
	return Unavailablef("netfilter connection tracking is not loaded here (no %s): no table to fill; watching for it to load", p.countPath())
}

// Check fails only when /proc itself is not there; a missing table is
// reported from Run, which notices when it appears.
func (p *conntrackProbe) Check() error {
	if _, err := os.Stat(p.cfg.ProcPath("sys")); err != nil {
		return Unavailablef("no %s: procfs is not mounted there", p.cfg.ProcPath("sys"))
	}
	return nil
}

// Run samples every interval. While the table is missing it says so with a
// probe_status of its own, and says ok again once it is there.
func (p *conntrackProbe) Run(ctx context.Context, emit Emit) error {
	p.count = newProcFile(p.countPath())
	p.max = newProcFile(p.cfg.ProcPath("sys", "net", "netfilter", "nf_conntrack_max"))
	p.stat = newProcFile(p.cfg.ProcPath("net", "stat", "nf_conntrack"))
	defer func() { p.count.close(); p.max.close(); p.stat.close() }()
	var prev *conntrackRead
	var prevAt time.Time
	loaded := true
	pl := newPoller(p.cfg)
	// The first read is a sample (with no rates), and a failing one only
	// counts, as any other.
	pl.atOnce, pl.giveUpAfter = true, maxReadFailures
	return pl.run(ctx, func() error {
		cur, err := p.read()
		at := p.now()
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if loaded {
				st := StatusOf(p.notLoaded())
				emit(event.New(at, conntrackName, &st))
			}
			loaded, prev = false, nil
			return errNotSampled // the table is gone, which is no failure to read it
		case err != nil:
			return err
		}
		if !loaded {
			emit(event.New(at, conntrackName, &event.ProbeStatus{Status: event.StatusOK}))
			loaded = true
		}
		s := schema.ConntrackSample{Count: cur.count, Max: cur.max}
		if prev != nil {
			s.IntervalS = at.Sub(prevAt).Seconds()
			d := cur.stat.since(prev.stat)
			s.Drop, s.EarlyDrop, s.InsertFailed, s.SearchRestart = d.drop, d.earlyDrop, d.insertFailed, d.searchRestart
		}
		emit(event.New(at, conntrackName, &s))
		prev, prevAt = &cur, at
		return nil
	})
}

type conntrackRead struct {
	count, max uint64
	stat       conntrackStat
}

func (p *conntrackProbe) read() (conntrackRead, error) {
	var r conntrackRead
	var err error
	if r.count, err = sysctlUint(p.count); err != nil {
		return r, err
	}
	if r.max, err = sysctlUint(p.max); err != nil {
		return r, err
	}
	b, err := p.stat.read()
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil // counters are a bonus; the fill is what matters
	}
	if err != nil {
		return r, fmt.Errorf("conntrack: %w", err)
	}
	r.stat, err = parseConntrackStat(bytes.NewReader(b))
	return r, err
}

func sysctlUint(f *procFile) (uint64, error) {
	b, err := f.read()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", f.path, err)
	}
	return n, nil
}

// conntrackStat holds the per-CPU counters of /proc/net/stat/nf_conntrack.
type conntrackStat [][4]uint32 // per CPU: drop, early_drop, insert_failed, search_restart

type conntrackDelta struct{ drop, earlyDrop, insertFailed, searchRestart uint64 }

// since sums each counter's rise per CPU. The kernel prints them as 32-bit
// hex, so a rise is taken modulo 2^32; a CPU that came or went is skipped.
func (s conntrackStat) since(prev conntrackStat) conntrackDelta {
	var d conntrackDelta
	if len(s) != len(prev) {
		return d
	}
	for i := range s {
		d.drop += uint64(s[i][0] - prev[i][0])
		d.earlyDrop += uint64(s[i][1] - prev[i][1])
		d.insertFailed += uint64(s[i][2] - prev[i][2])
		d.searchRestart += uint64(s[i][3] - prev[i][3])
	}
	return d
}

// parseConntrackStat reads the header to find the columns, since their set
// changed over kernel versions (searched/found/… before 5.x, clashres after).
func parseConntrackStat(r io.Reader) (conntrackStat, error) {
	sc := bufio.NewScanner(r)
	if !sc.Scan() {
		return nil, fmt.Errorf("conntrack stat: empty")
	}
	idx := [4]int{-1, -1, -1, -1}
	for i, h := range strings.Fields(sc.Text()) {
		for j, want := range []string{"drop", "early_drop", "insert_failed", "search_restart"} {
			if h == want {
				idx[j] = i
			}
		}
	}
	var out conntrackStat
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var row [4]uint32
		for j, i := range idx {
			if i < 0 || i >= len(f) {
				continue
			}
			v, err := strconv.ParseUint(f[i], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("conntrack stat: %q: %w", f[i], err)
			}
			row[j] = uint32(v)
		}
		out = append(out, row)
	}
	return out, sc.Err()
}

func init() { register(conntrackSpec) }
