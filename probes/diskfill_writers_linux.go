package probes

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// procScanner finds who writes and what deleted files hold space, with a
// bounded amount of work per pass: on a host with thousands of processes
// it reads /proc/PID/io for diskIOPerSample of them per pass, rotating
// through the list, plus the current top writers every pass; and it reads
// at most diskFDBudget fd links per pass looking for deleted files. So a
// new writer is seen within len(pids)/diskIOPerSample passes, and a
// deleted file within a rotation of the fd scan.
//
// A pass runs every sample while a filesystem is filling (see busy) and
// for the first diskWarmup seconds, and otherwise once every diskQuietEvery
// seconds: on a quiet host, rescanning every process's fds each second
// would cost more than everything else stakeout does. Between passes the
// last pass's writers and deleted files are reported again.
type procScanner struct {
	procfs  string
	pids    []int // the rotation, refreshed when it has been walked through
	ioNext  int
	fdNext  int
	procs   map[int]*procIO
	top     []int
	files   map[fdKey]fileSeen // sizes of the top writers' files at the last look
	deleted map[fdKey]*deletedFD
	buf     [4096]byte // io and fdinfo files are a few hundred bytes

	quietEvery float64      // seconds between passes while nothing fills
	lastPass   float64      // t of the last pass; < 0 before the first
	held       []heldWriter // the last pass's writers
	// followUp are top writers whose files on a watched filesystem the
	// last pass saw for the first time: how fast those grow is only known
	// at a second look, so the next sample looks at these processes' fds
	// again even on a quiet host (only theirs: no full pass).
	followUp  []int
	firstLook bool // set by writerFiles when it saw a file for the first time
}

// heldWriter is a writer from the last pass and the mount id it was found
// through, so it can be reported again while the filesystems are the same.
type heldWriter struct {
	mnt int
	w   schema.DiskWriter
}

type procIO struct {
	wb, wc      uint64  // write_bytes and wchar at the last read
	t           float64 // when
	rate, wrate float64 // their rates, bytes/s
	alive       bool
	comm        string // read once, when first needed
}

type fdKey struct{ pid, fd int }

type fileSeen struct {
	ino  uint64
	size int64
	t    float64
}

type deletedFD struct {
	schema.DeletedOpen
	mnt int
}

// fsIndex maps a mount id (any bind mount of a watched filesystem) to the
// filesystem's index in the sample; skip says a filesystem must not be
// touched (stale: its server may hang any stat).
type fsIndex struct {
	byMnt map[int]int
	skip  func(i int) bool
}

func newProcScanner(procfs string) *procScanner {
	return &procScanner{procfs: procfs, procs: map[int]*procIO{},
		files: map[fdKey]fileSeen{}, deleted: map[fdKey]*deletedFD{},
		quietEvery: schema.DiskQuietEvery, lastPass: -1}
}

func (s *procScanner) path(parts ...string) string {
	return filepath.Join(append([]string{s.procfs}, parts...)...)
}

// relist reads the pids in /proc; done only when a rotation is complete.
func (s *procScanner) relist() {
	s.pids = s.pids[:0]
	names, err := readDirNames(s.procfs, -1, s.buf[:], nil)
	if err != nil {
		return
	}
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && len(s.pids) < schema.DiskMaxProcs {
			s.pids = append(s.pids, pid)
		}
	}
	sort.Ints(s.pids)
	live := make(map[int]bool, len(s.pids))
	for _, p := range s.pids {
		live[p] = true
	}
	for p := range s.procs {
		if !live[p] {
			delete(s.procs, p)
		}
	}
	s.ioNext, s.fdNext = 0, 0
}

// sample returns per filesystem its top writers and its deleted-but-open
// files, n filesystems in all. busy says a filesystem is filling: then, in
// the first diskWarmup seconds, and once per quietEvery, it makes a pass
// (updates the write rates, looks at the top writers' files and walks fds
// for deleted files); otherwise it reports the last pass's findings again.
func (s *procScanner) sample(t float64, idx fsIndex, n int, busy bool) (writers [][]schema.DiskWriter, deleted [][]schema.DeletedOpen) {
	if busy || t < schema.DiskWarmup || s.lastPass < 0 || t-s.lastPass >= s.quietEvery {
		s.lastPass = t
		return s.pass(t, idx, n)
	}
	if len(s.followUp) > 0 {
		s.lookAgain(t, idx, n)
	}
	writers = make([][]schema.DiskWriter, n)
	for _, h := range s.held {
		if i, ok := idx.byMnt[h.mnt]; ok && !idx.skip(i) {
			writers[i] = append(writers[i], h.w)
		}
	}
	return writers, s.deletedBy(idx, n)
}

// pass updates write rates, then finds the top writers' growing files and
// walks the next fds for deleted files.
func (s *procScanner) pass(t float64, idx fsIndex, n int) (writers [][]schema.DiskWriter, deleted [][]schema.DeletedOpen) {
	// The io rotation is faster than the fd one; the list is refreshed once
	// both have walked through it.
	if s.ioNext >= len(s.pids) {
		if s.fdNext >= len(s.pids) {
			s.relist()
		} else {
			s.ioNext = 0
		}
	}
	batch := s.pids[s.ioNext:min(s.ioNext+schema.DiskIOPerSample, len(s.pids))]
	s.ioNext += len(batch)
	for _, pid := range append(append([]int(nil), s.top...), batch...) {
		s.readIO(pid, t)
	}
	// The top writers by write_bytes, then by wchar (tmpfs writers), each
	// list capped, no process twice.
	first := s.topBy(func(p *procIO) float64 { return p.rate }, schema.DiskMaxWriters, nil)
	s.top = append(first, s.topBy(func(p *procIO) float64 { return p.wrate }, schema.DiskMaxWcharWriters, first)...)

	writers = make([][]schema.DiskWriter, n)
	seen := map[fdKey]fileSeen{}
	s.held = s.held[:0]
	s.followUp = s.followUp[:0]
	for _, pid := range s.top {
		s.firstLook = false
		for i, hw := range s.writerFiles(pid, t, idx, n, seen) {
			writers[i] = append(writers[i], hw.w)
			s.held = append(s.held, hw)
		}
		if s.firstLook {
			s.followUp = append(s.followUp, pid)
		}
	}
	for _, ws := range writers {
		sort.Slice(ws, func(a, b int) bool { return fasterWriter(ws[a], ws[b]) })
	}
	sort.Slice(s.held, func(a, b int) bool { return fasterWriter(s.held[a].w, s.held[b].w) })
	s.files = seen
	return writers, s.scanDeleted(t, idx, n)
}

// lookAgain is the second look at the files of the writers the last pass
// saw files of for the first time; their held entries are replaced. It is
// done once: a file opened since is first seen here and waits for a pass.
func (s *procScanner) lookAgain(t float64, idx fsIndex, n int) {
	pids := s.followUp
	s.followUp = nil
	again := map[int]bool{}
	for _, pid := range pids {
		again[pid] = true
	}
	held := make([]heldWriter, 0, len(s.held))
	for _, h := range s.held {
		if !again[h.w.PID] {
			held = append(held, h)
		}
	}
	for _, pid := range pids {
		for _, hw := range s.writerFiles(pid, t, idx, n, s.files) {
			held = append(held, hw)
		}
	}
	sort.Slice(held, func(a, b int) bool { return fasterWriter(held[a].w, held[b].w) })
	s.held = held
}

// fasterWriter orders writers by how fast they fill, then by pid.
func fasterWriter(a, b schema.DiskWriter) bool {
	if a.WriteBytesPerS != b.WriteBytesPerS {
		return a.WriteBytesPerS > b.WriteBytesPerS
	}
	return a.PID < b.PID
}

// topBy returns up to n live processes with the highest positive by(),
// leaving out those in not.
func (s *procScanner) topBy(by func(*procIO) float64, n int, not []int) []int {
	skip := map[int]bool{}
	for _, pid := range not {
		skip[pid] = true
	}
	var out []int
	for pid, p := range s.procs {
		if by(p) > 0 && p.alive && !skip[pid] {
			out = append(out, pid)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := by(s.procs[out[i]]), by(s.procs[out[j]])
		if a != b {
			return a > b
		}
		return out[i] < out[j]
	})
	return out[:min(len(out), n)]
}

// readIO reads one process's write_bytes and updates its rate. A process
// that is gone, or that we may not read, keeps no rate.
func (s *procScanner) readIO(pid int, t float64) {
	b, err := s.readSmall(s.path(strconv.Itoa(pid), "io"))
	p := s.procs[pid]
	if err != nil {
		if p != nil {
			p.alive, p.rate, p.wrate = false, 0, 0
		}
		return
	}
	wc, wb, err := parseProcIO(b)
	if err != nil {
		return
	}
	if p == nil {
		if len(s.procs) >= schema.DiskMaxProcs {
			return
		}
		s.procs[pid] = &procIO{wb: wb, wc: wc, t: t, alive: true}
		return
	}
	if t <= p.t {
		return // read twice in one sample (a top writer also in the batch)
	}
	if wb >= p.wb && wc >= p.wc {
		p.rate = float64(wb-p.wb) / (t - p.t)
		p.wrate = float64(wc-p.wc) / (t - p.t)
	} else {
		p.rate, p.wrate, p.comm = 0, 0, "" // pid reused by another process
	}
	p.wb, p.wc, p.t, p.alive = wb, wc, t, true
}

// writerFiles looks at one top writer's fds: for each watched filesystem
// on which it has open files that grew since the last look, one DiskWriter
// whose rate is the sum of that growth and whose files are the fastest
// growing ones. Which filesystem a file is on comes from its own fd (the
// mount it was opened through), never from the process: write_bytes counts
// every write the process makes, to any filesystem, so a process writing
// to one filesystem while it holds a log open on another is listed only
// where its files grow, and one writing to two is split between them.
func (s *procScanner) writerFiles(pid int, t float64, idx fsIndex, n int, seen map[fdKey]fileSeen) map[int]heldWriter {
	out := map[int]heldWriter{}
	comm := ""
	s.eachFD(pid, schema.DiskFDPerProc, func(fd int, link string) {
		if !strings.HasPrefix(link, "/") {
			return // socket, pipe, anon inode
		}
		fi, i, ok := s.fdOnWatched(pid, fd, idx)
		if !ok || !fi.writable() {
			return
		}
		st, ok := s.statFD(pid, fd)
		if !ok {
			return
		}
		k := fdKey{pid, fd}
		cur := fileSeen{ino: st.Ino, size: st.Size, t: t}
		prev, had := s.files[k] // before seen[k]: seen may be s.files
		seen[k] = cur
		if !had || prev.ino != cur.ino {
			s.firstLook = true
			return
		}
		if cur.t <= prev.t || cur.size <= prev.size {
			return
		}
		rate := float64(cur.size-prev.size) / (cur.t - prev.t)
		hw, listed := out[i]
		if !listed {
			if comm == "" {
				comm = s.comm(pid)
			}
			hw = heldWriter{mnt: fi.MntID, w: schema.DiskWriter{PID: pid, Comm: comm, Files: []schema.GrowingFD{}}}
		}
		path, _ := strings.CutSuffix(link, deletedSuffix)
		hw.w.WriteBytesPerS += rate
		hw.w.Files = append(hw.w.Files, schema.GrowingFD{Path: path, SizeBytes: cur.size, GrowthBytesPerS: rate})
		out[i] = hw
	})
	for i, hw := range out {
		w := hw.w
		sort.Slice(w.Files, func(a, b int) bool { return w.Files[a].GrowthBytesPerS > w.Files[b].GrowthBytesPerS })
		w.Files = w.Files[:min(len(w.Files), schema.DiskMaxFiles)]
		hw.w = w
		out[i] = hw
	}
	return out
}

// scanDeleted re-checks the deleted files already known, then walks the fd
// links of the next processes in the rotation until the budget is spent.
func (s *procScanner) scanDeleted(t float64, idx fsIndex, n int) [][]schema.DeletedOpen {
	for k, d := range s.deleted {
		link, err := os.Readlink(s.path(strconv.Itoa(k.pid), "fd", strconv.Itoa(k.fd)))
		st, ok := s.statFD(k.pid, k.fd)
		if i, on := idx.byMnt[d.mnt]; err != nil || !ok || !on || idx.skip(i) ||
			!strings.HasSuffix(link, deletedSuffix) || st.Size < schema.DiskDeletedMin {
			delete(s.deleted, k)
			continue
		}
		d.SizeBytes = st.Size
	}
	budget := schema.DiskFDBudget
	for budget > 0 && s.fdNext < len(s.pids) {
		pid := s.pids[s.fdNext]
		s.fdNext++
		comm := ""
		budget -= s.eachFD(pid, min(budget, schema.DiskFDPerProc), func(fd int, link string) {
			path, ok := deletedPath(link)
			k := fdKey{pid, fd}
			if !ok || s.deleted[k] != nil || len(s.deleted) >= schema.DiskMaxDeleted {
				return
			}
			fi, _, ok := s.fdOnWatched(pid, fd, idx)
			if !ok {
				return
			}
			st, ok := s.statFD(pid, fd)
			if !ok || st.Size < schema.DiskDeletedMin {
				return
			}
			if comm == "" {
				comm = s.comm(pid)
			}
			s.deleted[k] = &deletedFD{schema.DeletedOpen{PID: pid, Comm: comm, Path: path, SizeBytes: st.Size}, fi.MntID}
		})
	}
	return s.deletedBy(idx, n)
}

// deletedBy lists the deleted files known, per filesystem, largest first.
func (s *procScanner) deletedBy(idx fsIndex, n int) [][]schema.DeletedOpen {
	out := make([][]schema.DeletedOpen, n)
	for _, d := range s.deleted {
		i, ok := idx.byMnt[d.mnt]
		if !ok || idx.skip(i) {
			continue
		}
		out[i] = append(out[i], d.DeletedOpen)
	}
	for _, l := range out {
		sort.Slice(l, func(a, b int) bool {
			if l[a].SizeBytes != l[b].SizeBytes {
				return l[a].SizeBytes > l[b].SizeBytes
			}
			return l[a].PID < l[b].PID || (l[a].PID == l[b].PID && l[a].Path < l[b].Path)
		})
	}
	return out
}

// eachFD calls fn for at most limit of pid's fds with their link text and
// returns how many links it read.
func (s *procScanner) eachFD(pid, limit int, fn func(fd int, link string)) int {
	dir := s.path(strconv.Itoa(pid), "fd")
	names, err := readDirNames(dir, limit, s.buf[:], nil)
	if err != nil && len(names) == 0 {
		return 1
	}
	for i, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		link, err := os.Readlink(filepath.Join(dir, name))
		if err == nil {
			fn(fd, link)
			continue
		}
		// Where the fd list can be read but the links are refused (the
		// kernel's ptrace access check: even root gets EACCES for some
		// processes in a sandbox), one refusal means all of them.
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return i + 1
		}
	}
	return max(len(names), 1)
}

// fdOnWatched reads fdinfo and says which watched filesystem the fd is on.
// It touches only procfs, never the file's own filesystem.
func (s *procScanner) fdOnWatched(pid, fd int, idx fsIndex) (fdInfo, int, bool) {
	b, err := s.readSmall(s.path(strconv.Itoa(pid), "fdinfo", strconv.Itoa(fd)))
	if err != nil {
		return fdInfo{}, 0, false
	}
	fi, err := parseFDInfo(b)
	if err != nil {
		return fdInfo{}, 0, false
	}
	i, ok := idx.byMnt[fi.MntID]
	if !ok || idx.skip(i) {
		return fdInfo{}, 0, false
	}
	return fi, i, true
}

// statFD stats the open file itself (through the magic link, so a deleted
// file works too); only regular files count.
func (s *procScanner) statFD(pid, fd int) (syscall.Stat_t, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(s.path(strconv.Itoa(pid), "fd", strconv.Itoa(fd)), &st); err != nil {
		return st, false
	}
	return st, st.Mode&syscall.S_IFMT == syscall.S_IFREG
}

// readSmall reads the start of a small procfs file with plain syscalls:
// os.Open would also fstat it and try to register it with the poller, which
// costs more than the read on the thousands of files a sample may open.
func (s *procScanner) readSmall(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, s.buf[:])
	if err != nil {
		return nil, err
	}
	return s.buf[:n], nil
}

// comm is pid's command name, read once per process and kept while the
// process lives (a rename by prctl or exec shows from the next process).
func (s *procScanner) comm(pid int) string {
	p := s.procs[pid]
	if p != nil && p.comm != "" {
		return p.comm
	}
	b, err := s.readSmall(s.path(strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	c := strings.TrimSuffix(string(b), "\n")
	if p != nil {
		p.comm = c
	}
	return c
}
