package probes

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

func TestParsePIDStatTakesCommWithSpacesAndParens(t *testing.T) {
	line := "4300 (cpu hog (x)) R 1 4300 4300 0 -1 4194560 1000 0 77 0 1000 10 0 0 20 0 4 0 5100 100000000 2000 18446744073709551615 1 1\n"
	f, ok := parsePIDStat([]byte(line))
	if !ok {
		t.Fatal("not parsed")
	}
	want := pidStat{comm: "cpu hog (x)", state: 'R', ppid: 1, majflt: 77, utime: 1000, stime: 10, threads: 4, start: 5100, rssPages: 2000}
	if f != want {
		t.Errorf("got %+v, want %+v", f, want)
	}
	for _, bad := range []string{"", "12 (x", "12 (x) R 1 2 3", "12 x) R"} {
		if _, ok := parsePIDStat([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseHostCounterFiles(t *testing.T) {
	rb, wb, ok := parsePIDIO([]byte("rchar: 5\nwchar: 6\nsyscr: 1\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n"))
	if !ok || rb != 4096 || wb != 8192 {
		t.Errorf("io: %d %d %v", rb, wb, ok)
	}
	if _, _, ok := parsePIDIO([]byte("rchar: 5\n")); ok {
		t.Error("io without read_bytes parsed")
	}
	v := parseVMStat([]byte("nr_free_pages 1\npswpin 7\npswpout 8\npgfault 100\npgmajfault 9"))
	if v != (vmCounters{pswpin: 7, pswpout: 8, pgmajfault: 9}) {
		t.Errorf("vmstat: %+v", v)
	}
	some, full, ok := parsePressure([]byte("some avg10=32.50 avg60=1.00 avg300=0.00 total=9\nfull avg10=11.25 avg60=0.00 avg300=0.00 total=3\n"))
	if !ok || some != 32.5 || full != 11.25 {
		t.Errorf("pressure: %v %v %v", some, full, ok)
	}
	if some, full, ok := parsePressure([]byte("some avg10=4.00 avg60=0.00 avg300=0.00 total=9\n")); !ok || some != 4 || full != 0 {
		t.Errorf("pressure without full (cpu before 5.13): %v %v %v", some, full, ok)
	}
}

// forkDatagram is what the proc connector sends for one event: a netlink
// header, a cn_msg, and a proc_event whose data is a fork's four ids.
func forkDatagram(what uint32, parentTgid, child uint32) []byte {
	le := binary.LittleEndian
	ev := le.AppendUint32(nil, what)
	ev = le.AppendUint32(ev, 0)            // cpu
	ev = le.AppendUint64(ev, 0)            // timestamp_ns
	ev = le.AppendUint32(ev, parentTgid+1) // parent_pid: a thread of it
	ev = le.AppendUint32(ev, parentTgid)   // parent_tgid
	ev = le.AppendUint32(ev, child)        // child_pid
	ev = le.AppendUint32(ev, child)        // child_tgid
	cn := le.AppendUint32(nil, cnIdxProc)
	cn = le.AppendUint32(cn, cnValProc)
	cn = le.AppendUint32(cn, 0) // seq
	cn = le.AppendUint32(cn, 0) // ack
	cn = le.AppendUint16(cn, uint16(len(ev)))
	cn = le.AppendUint16(cn, 0) // flags
	cn = append(cn, ev...)
	b := le.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+len(cn)))
	b = le.AppendUint16(b, unix.NLMSG_DONE)
	b = le.AppendUint16(b, 0) // flags
	b = le.AppendUint32(b, 0) // seq
	b = le.AppendUint32(b, 0) // port id
	return append(b, cn...)
}

func TestParseForkEventsTakesTheParentThreadGroup(t *testing.T) {
	b := append(forkDatagram(procEventFork, 812, 900), forkDatagram(procEventExec, 813, 901)...)
	b = append(b, forkDatagram(procEventFork, 812, 902)...)
	got := parseForkEvents(b, nil)
	if len(got) != 2 || got[0] != 812 || got[1] != 812 {
		t.Errorf("parents %v, want [812 812] (the exec skipped)", got)
	}
	if got := parseForkEvents(b[:30], nil); len(got) != 0 {
		t.Errorf("a cut datagram gave %v", got)
	}
}

// hostFixture copies a fixture host and returns a probe on it whose clock
// steps 2 s per reading.
func hostFixture(t *testing.T, name string) (*hostCollector, string) {
	t.Helper()
	root := testenv.CopyTree(t, filepath.Join(hostFixtures, name))
	cfg := DefaultConfig()
	cfg.Procfs, cfg.Sysfs = filepath.Join(root, "proc"), filepath.Join(root, "sys")
	p := newHost(cfg)
	clock := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	p.now = func() time.Time { clock = clock.Add(2 * time.Second); return clock }
	return p, root
}

// overlay copies every file of the fixture tree name over root, each by
// an atomic rename.
func overlay(t *testing.T, root, name string) {
	t.Helper()
	src := filepath.Join(hostFixtures, name)
	err := filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		dst := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		replaceFile(t, dst, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hostFixtures holds the host probe's fixture trees.
const hostFixtures = "testdata/host"

// TestHostSampleOfAFixtureVM reads a fixture VM twice, 2 s apart, with
// every figure hand-worked in testdata (gen comments): CPU by mode with
// 20% steal, swapping both ways, memory pressure mostly in one cgroup,
// and four processes.
func TestHostSampleOfAFixtureVM(t *testing.T) {
	p, root := hostFixture(t, "vm")
	info, err := p.open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if len(info.Unavailable) != 0 || info.Cgroup2 != filepath.Join(root, "sys", "fs", "cgroup") || info.CPUs != 2 || info.ForksFrom != "scan" {
		t.Errorf("info %+v", info)
	}
	r0, err := p.baseline()
	if err != nil {
		t.Fatal(err)
	}
	overlay(t, root, "vm-t1")
	r1, err := p.read()
	if err != nil {
		t.Fatal(err)
	}
	s := p.sample(r0, r1, r1.at.Sub(r0.at).Seconds())
	if s.IntervalS != 2 {
		t.Fatalf("interval %v", s.IntervalS)
	}
	wantCPU := schema.HostCPU{CPUs: 2, User: 30, System: 10, IOWait: 5, IRQ: 1, SoftIRQ: 4, Steal: 20, Idle: 30}
	if s.CPU != wantCPU {
		t.Errorf("cpu %+v, want %+v", s.CPU, wantCPU)
	}
	if s.Load1 != 3 || s.Running != 5 || s.Blocked != 2 || s.CtxtPerS != 1000 || s.ForksPerS != 50 {
		t.Errorf("load %v running %d blocked %d ctxt %v forks %v", s.Load1, s.Running, s.Blocked, s.CtxtPerS, s.ForksPerS)
	}
	page := float64(os.Getpagesize())
	const kb = 1024
	m := s.Mem
	if m.TotalBytes != 8000000*kb || m.AvailableBytes != 5900000*kb || m.UsedBytes != 2100000*kb ||
		m.CachedBytes != 1600000*kb || m.DirtyBytes != 4096*kb || m.WritebackBytes != 1024*kb ||
		m.SwapTotalBytes != 2000000*kb || m.SwapUsedBytes != 600000*kb {
		t.Errorf("mem %+v", m)
	}
	if m.SwapInPerS != 512*page || m.SwapOutPerS != 1024*page || m.MajorFaultsPerS != 150 {
		t.Errorf("swap in %v out %v majflt %v", m.SwapInPerS, m.SwapOutPerS, m.MajorFaultsPerS)
	}
	mem := s.PSI.Of("memory")
	if mem == nil || mem.SomeAvg10 != 35 || mem.SomePct != 25 || mem.FullAvg10 != 12.5 || mem.FullPct != 5 {
		t.Fatalf("memory psi %+v", mem)
	}
	if c := mem.Cgroup; c == nil || c.Path != "/stk.slice/hog.scope" || c.SomeAvg10 != 32 || c.FullAvg10 != 11 || len(c.PIDs) != 1 || c.PIDs[0] != 4242 {
		t.Errorf("memory cgroup %+v, want /stk.slice/hog.scope with pid 4242", mem.Cgroup)
	}
	if cpu := s.PSI.Of("cpu"); cpu == nil || cpu.SomePct != 10 || cpu.Cgroup != nil {
		t.Errorf("cpu psi %+v (no group has cpu.pressure below the root)", cpu)
	}
	if io := s.PSI.Of("io"); io == nil || io.SomeAvg10 != 1 || io.Cgroup != nil {
		t.Errorf("io psi %+v (under HostCgroupFrom: no cgroup looked for)", io)
	}
	me, _ := user.Current()
	byPID := map[int]schema.HostProc{}
	for _, pr := range s.Top {
		byPID[pr.PID] = pr
		if pr.User != me.Username {
			t.Errorf("pid %d user %q, want %q (the fixture's owner)", pr.PID, pr.User, me.Username)
		}
	}
	hog, mh, wr := byPID[4300], byPID[4242], byPID[4400]
	if hog.Comm != "cpu hog (x)" || hog.CPUPct != 180 || hog.Threads != 4 || hog.State != "R" {
		t.Errorf("cpu hog %+v", hog)
	}
	if mh.CPUPct != 30 || mh.MajfltPerS != 100 || mh.RSSBytes != uint64(510000*page) || mh.ReadBytesPerS != 4<<20 || mh.State != "D" {
		t.Errorf("memhog %+v", mh)
	}
	if wr.CPUPct != 1 || wr.WriteBytesPerS != 2<<20 {
		t.Errorf("writer %+v", wr)
	}
	if s.Top[0].PID != 4300 {
		t.Errorf("top is not by CPU: %+v", s.Top)
	}
	if _, ok := byPID[2]; ok || len(s.Top) != 5 {
		t.Errorf("%d listed; a kernel thread at zero in every ranking is among them: %+v", len(s.Top), s.Top)
	}
	if c := byPID[4500]; c.CPUPct != 0 || c.RSSBytes != uint64(100*page) {
		t.Errorf("a process first seen by this scan has no rates yet, and is listed for its RSS: %+v", c)
	}
	if len(s.Forkers) != 1 || s.Forkers[0] != (schema.HostForker{PID: 4300, Comm: "cpu hog (x)", ForksPerS: 0.5}) {
		t.Errorf("forkers %+v, want 4300 from the scan's newcomer", s.Forkers)
	}
}

// TestHostOnABareHostSaysWhatIsMissing: no /proc/pressure, no cgroup v2,
// no MemAvailable. The probe runs, says why each part is missing, and
// its samples have no PSI.
func TestHostOnABareHostSaysWhatIsMissing(t *testing.T) {
	p, root := hostFixture(t, "bare")
	if err := p.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	info, err := p.open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	reasons := map[string]string{}
	for _, u := range info.Unavailable {
		reasons[u.Part] = u.Reason
	}
	for part, want := range map[string]string{
		"psi":       "no " + filepath.Join(root, "proc", "pressure") + ": this kernel keeps no pressure stall information",
		"cgroup":    "no cgroup v2 hierarchy at " + filepath.Join(root, "sys", "fs", "cgroup"),
		"available": "no MemAvailable",
	} {
		if !strings.HasPrefix(reasons[part], want) {
			t.Errorf("%s: %q, want it to start %q", part, reasons[part], want)
		}
	}
	r0, err := p.baseline()
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := p.read()
	s := p.sample(r0, r1, 2)
	if s.PSI != nil || !s.Mem.AvailableUnknown || s.Mem.AvailableBytes != (3000000+20000+1600000)*1024 {
		t.Errorf("psi %+v, mem %+v", s.PSI, s.Mem)
	}
}

func TestHostCheckNamesTheMissingFile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Procfs = t.TempDir()
	err := newHost(cfg).Check()
	var u *event.Unavailable
	if !errors.As(err, &u) || !strings.Contains(u.Reason, filepath.Join(cfg.Procfs, "stat")) {
		t.Errorf("Check: %v", err)
	}
}

// TestHostScannerOnThisKernel: a busy child shows its CPU, and a child
// that exits is forgotten along with its kept stat file.
func TestHostScannerOnThisKernel(t *testing.T) {
	busy := exec.Command("sh", "-c", "while :; do :; done")
	idle := exec.Command("sleep", "60")
	for _, c := range []*exec.Cmd{busy, idle} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { c.Process.Kill(); c.Wait() }()
	}
	s := newHostScanner("/proc")
	defer s.close()
	if !s.keep {
		t.Fatal("/proc is not procfs here")
	}
	s.scan(time.Now())
	kept := s.kept
	var cpu float64
	testenv.Eventually(t, 20*time.Second, "the busy child uses CPU", func() bool {
		time.Sleep(300 * time.Millisecond)
		ps, err := s.scan(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.pid == busy.Process.Pid {
				cpu = p.cpuPct
			}
		}
		return cpu > 0
	})
	idle.Process.Kill()
	idle.Wait()
	s.scan(time.Now())
	if st := s.procs[idle.Process.Pid]; st != nil {
		t.Errorf("the exited child is still followed: %+v", st)
	}
	if s.kept > kept+5 || s.kept < 1 {
		t.Errorf("%d stat files kept open (first scan %d)", s.kept, kept)
	}
}

// TestForkCounterNamesTheForkingParent: a shell runs /bin/true 50 times;
// the proc connector counts 50 forks or more to it.
func TestForkCounterNamesTheForkingParent(t *testing.T) {
	testenv.NeedRoot(t, "the proc connector needs CAP_NET_ADMIN")
	fc, err := openForkCounter()
	if err != nil {
		t.Skipf("no proc connector here: %v", err)
	}
	defer fc.close()
	sh := exec.Command("sh", "-c", "i=0; while [ $i -lt 50 ]; do /bin/true; i=$((i+1)); done")
	if err := sh.Run(); err != nil {
		t.Fatal(err)
	}
	by, lost := fc.drain()
	if got := by[sh.Process.Pid]; got < 50 {
		t.Errorf("%d forks counted to the shell %d (lost %v), want 50: %v", got, sh.Process.Pid, lost, by)
	}
}

// TestHostRunsOnThisKernel: Run says what it reads first, then samples
// every interval, each with CPU shares adding up to 100.
func TestHostRunsOnThisKernel(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Interval = 200 * time.Millisecond
	p := newHost(cfg)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	evs := make(chan event.Event, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(ev event.Event) {
			select {
			case evs <- ev:
			default:
			}
		})
	}()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	}()
	guard := time.After(30 * time.Second) // failure guard only
	var kinds []string
	for len(kinds) < 3 {
		select {
		case ev := <-evs:
			kinds = append(kinds, ev.Kind)
			if s, ok := event.As[schema.HostSample](ev); ok {
				c := s.CPU
				sum := c.User + c.Nice + c.System + c.IOWait + c.IRQ + c.SoftIRQ + c.Steal + c.Idle
				if math.Abs(sum-100) > 0.1 || s.Mem.TotalBytes == 0 || s.CPU.CPUs == 0 {
					t.Errorf("sample %+v (cpu sums to %v)", s, sum)
				}
				if len(kinds) == 2 && len(s.Top) == 0 {
					t.Error("the first sample has no processes: it must scan")
				}
			}
		case err := <-done:
			t.Fatalf("Run returned: %v", err)
		case <-guard:
			t.Fatalf("only %v", kinds)
		}
	}
	if want := schema.KindHostInfo + "," + schema.KindHost + "," + schema.KindHost; strings.Join(kinds, ",") != want {
		t.Errorf("kinds %v, want %s", kinds, want)
	}
}
