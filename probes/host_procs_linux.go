package probes

// The host probe's per-second scan of every process: /proc/PID/stat for
// CPU, RSS, state and faults, and /proc/PID/io for storage bytes.
//
// Why not prometheus/procfs's Proc.Stat and Proc.IO, which the rest of the
// probe uses: with 2,100 processes on this 2-core PVM host (2,000 `sleep`s),
// AllProcs plus each Proc's Stat and IO cost 128.6–149.6 ms of CPU a scan
// (13–15% of a core at one scan a second), against 57–60 ms a second for
// `top -b -d 1` over the same processes (BenchmarkHostScan and
// bench/host.sh; figures in bench/README.md). procfs opens each file with
// os.Open (seven syscalls where three do), parses stat with fmt.Fscan and
// allocates about 44 objects per process. The reader here keeps each
// process's stat file open and re-reads it with one pread (procfs
// regenerates it from offset 0), parses it without allocating, and reads
// /proc/PID/io only for a process that used CPU in the interval (no CPU,
// no I/O: reads and dirtying pages happen in the process's own syscalls),
// and at least every ioRefresh for the rest. That is 21.5–28.8 ms a scan
// for the same 2,100 processes.

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// maxKeptStatFiles bounds the stat files kept open between scans;
	// processes past it are read with open, read, close.
	maxKeptStatFiles = 4096
	// maxScannedProcs bounds the processes one scan follows (and the
	// memory it keeps); a host with more has the rest skipped.
	maxScannedProcs = 65536
	// ioRefresh: a process that used no CPU has its /proc/PID/io read
	// again after this long anyway, which bounds how long I/O done with
	// less than a clock tick of CPU waits to be counted.
	ioRefresh = 5 * time.Second
)

// hostProcState is what the scanner remembers of one process between scans.
type hostProcState struct {
	fd      int    // its stat file, kept open; -1 if not kept
	start   uint64 // starttime (ticks since boot): a reused pid differs
	ticks   uint64 // utime+stime at the previous scan
	majflt  uint64
	at      time.Time // previous scan
	ioKnown time.Time // the io counters below are known to hold at this time
	ioRead  time.Time // when /proc/PID/io was last read
	rb, wb  uint64
	noIO    bool // /proc/PID/io cannot be read (permission, no task I/O accounting)
	gen     uint64
}

// procNow is one process as one scan saw it, with its rates since the
// previous scan (zero for a process first seen in this scan).
type procNow struct {
	pid, ppid  int
	comm       string
	state      byte
	threads    int
	rss        uint64
	cpuPct     float64
	rbps, wbps float64
	majps      float64
}

// hostScanner reads every process each scan. It is used by one goroutine.
type hostScanner struct {
	root     string // the /proc root
	keep     bool   // root is procfs: keep stat files open
	hz       float64
	pageSize uint64
	procs    map[int]*hostProcState
	kept     int
	gen      uint64
	first    bool // the next scan is the first: everything in it is a baseline
	dirBuf   []byte
	buf      []byte
	names    []string
	now      []procNow
	newcomer map[int]int // processes first seen by this scan, counted by parent
	skipped  int         // processes past maxScannedProcs in the last scan
}

func newHostScanner(root string) *hostScanner {
	s := &hostScanner{root: root, hz: clockTicks, pageSize: uint64(os.Getpagesize()), procs: map[int]*hostProcState{},
		first: true, dirBuf: make([]byte, 64<<10), buf: make([]byte, 4096), newcomer: map[int]int{}}
	var st unix.Statfs_t
	s.keep = unix.Statfs(root, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
	return s
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture stakeout builds for (the kernel fixes it for the ABI).
const clockTicks = 100

func (s *hostScanner) close() {
	for _, st := range s.procs {
		if st.fd >= 0 {
			unix.Close(st.fd)
		}
	}
	s.procs, s.kept = map[int]*hostProcState{}, 0
}

func (s *hostScanner) drop(pid int, st *hostProcState) {
	if st.fd >= 0 {
		unix.Close(st.fd)
		s.kept--
	}
	delete(s.procs, pid)
}

// scan reads every process at time at. The returned slice is valid until
// the next scan.
func (s *hostScanner) scan(at time.Time) ([]procNow, error) {
	names, err := readDirNames(s.root, 0, s.dirBuf, s.names[:0])
	s.names = names
	if err != nil {
		return nil, err
	}
	s.gen++
	clear(s.newcomer)
	s.now = s.now[:0]
	s.skipped = 0
	first := s.first
	s.first = false
	for _, name := range names {
		pid, ok := atoiPID(name)
		if !ok {
			continue
		}
		st := s.procs[pid]
		if st == nil && len(s.procs) >= maxScannedProcs {
			s.skipped++
			continue
		}
		b, err := s.readStat(pid, st)
		if err != nil {
			if st != nil {
				s.drop(pid, st)
			}
			continue // gone between the listing and the read
		}
		f, ok := parsePIDStat(b)
		if !ok {
			continue
		}
		if st != nil && st.start != f.start { // the pid was reused (files opened afresh each time)
			s.drop(pid, st)
			st = nil
		}
		n := procNow{pid: pid, ppid: f.ppid, comm: f.comm, state: f.state, threads: f.threads, rss: f.rssPages * s.pageSize}
		ticks := f.utime + f.stime
		if st == nil {
			st = &hostProcState{fd: -1, start: f.start}
			s.procs[pid] = st
			if s.keep && s.kept < maxKeptStatFiles {
				if fd, err := unix.Open(s.statPath(pid), unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
					st.fd = fd
					s.kept++
				}
			}
			if !first {
				s.newcomer[f.ppid]++
			}
			s.readIO(pid, st, at)
		} else if dt := at.Sub(st.at).Seconds(); dt > 0 {
			n.cpuPct = float64(ticks-min(st.ticks, ticks)) / s.hz / dt * 100
			n.majps = float64(f.majflt-min(st.majflt, f.majflt)) / dt
			if ticks != st.ticks || at.Sub(st.ioRead) >= ioRefresh {
				rb, wb, since := st.rb, st.wb, st.ioKnown
				if s.readIO(pid, st, at) {
					if d := at.Sub(since).Seconds(); d > 0 {
						n.rbps = float64(st.rb-min(rb, st.rb)) / d
						n.wbps = float64(st.wb-min(wb, st.wb)) / d
					}
				}
			} else {
				st.ioKnown = at // it ran for less than a tick: its I/O counters stand
			}
		}
		st.ticks, st.majflt, st.at, st.gen = ticks, f.majflt, at, s.gen
		s.now = append(s.now, n)
	}
	for pid, st := range s.procs {
		if st.gen != s.gen {
			s.drop(pid, st)
		}
	}
	return s.now, nil
}

func (s *hostScanner) statPath(pid int) string {
	return filepath.Join(s.root, strconv.Itoa(pid), "stat")
}

// readStat reads a process's stat file: through its kept fd, else afresh.
func (s *hostScanner) readStat(pid int, st *hostProcState) ([]byte, error) {
	if st != nil && st.fd >= 0 {
		for {
			n, err := unix.Pread(st.fd, s.buf, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return nil, err // ESRCH: the process is gone
			}
			if n == 0 {
				return nil, errors.New("empty stat")
			}
			return s.buf[:n], nil
		}
	}
	return readProcInto(s.statPath(pid), s.buf)
}

// readIO reads /proc/PID/io into st; false if it could not.
func (s *hostScanner) readIO(pid int, st *hostProcState, at time.Time) bool {
	if st.noIO {
		return false
	}
	b, err := readProcInto(filepath.Join(s.root, strconv.Itoa(pid), "io"), s.buf)
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.ENOENT) {
			st.noIO = true // not ours to read, or a kernel without task I/O accounting
		}
		return false
	}
	rb, wb, ok := parsePIDIO(b)
	if !ok {
		st.noIO = true
		return false
	}
	st.rb, st.wb, st.ioKnown, st.ioRead = rb, wb, at, at
	return true
}

func atoiPID(name string) (int, bool) {
	if name == "" || len(name) > 10 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n > 0
}

// pidStat is what the scan takes from /proc/PID/stat.
type pidStat struct {
	comm                 string
	state                byte
	ppid, threads        int
	majflt, utime, stime uint64
	start, rssPages      uint64
}

// parsePIDStat reads /proc/PID/stat (proc(5)). comm is between the first
// '(' and the last ')', since a comm may hold spaces and parentheses;
// fields after it are counted from 3 (state).
func parsePIDStat(b []byte) (pidStat, bool) {
	var f pidStat
	l, r := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if l < 0 || r < l || r+2 > len(b) {
		return f, false
	}
	f.comm = string(b[l+1 : r])
	field := 3
	rest := b[r+1:]
	for len(rest) > 0 && field <= 24 {
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		tok := rest[:end]
		rest = rest[end:]
		if len(tok) == 0 {
			break
		}
		switch field {
		case 3:
			f.state = tok[0]
		case 4:
			f.ppid = int(parseUintTok(tok))
		case 12:
			f.majflt = parseUintTok(tok)
		case 14:
			f.utime = parseUintTok(tok)
		case 15:
			f.stime = parseUintTok(tok)
		case 20:
			f.threads = int(parseUintTok(tok))
		case 22:
			f.start = parseUintTok(tok)
		case 24:
			f.rssPages = parseUintTok(tok) // signed in the kernel, never negative for a live task
		}
		field++
	}
	return f, field > 24
}

// parseUintTok parses decimal digits, saturating; anything else reads 0.
func parseUintTok(tok []byte) uint64 {
	var n uint64
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0
		}
		if n > (1<<63)/10 {
			return 1<<63 - 1
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// parsePIDIO takes read_bytes and write_bytes from /proc/PID/io.
func parsePIDIO(b []byte) (rb, wb uint64, ok bool) {
	found := 0
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		name, val, cut := bytes.Cut(line, []byte(": "))
		if !cut {
			continue
		}
		switch string(name) {
		case "read_bytes":
			rb = parseUintTok(bytes.TrimSpace(val))
			found++
		case "write_bytes":
			wb = parseUintTok(bytes.TrimSpace(val))
			found++
		}
	}
	return rb, wb, found == 2
}

// uidOf is the owner of /proc/PID: the process's effective uid (root for
// one that is not dumpable).
func (s *hostScanner) uidOf(pid int) (uint32, bool) {
	var st unix.Stat_t
	if unix.Stat(filepath.Join(s.root, strconv.Itoa(pid)), &st) != nil {
		return 0, false
	}
	return st.Uid, true
}
