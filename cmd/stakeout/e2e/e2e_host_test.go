//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/testenv"
)

// The host probe against real culprits: a CPU hog, a memory hog held in a
// cgroup so that it stalls instead of being OOM-killed, and a fork loop.
// Each test runs `stakeout snapshot --probes host` while the culprit runs
// and looks for the finding naming it among every finding event the
// recording holds (a condition's later updates may name others once the
// culprit has ended).

// hostProgs are the culprits, in C so they are what they say and nothing
// more: a process of several spinning threads, one that keeps writing to
// every page of a buffer, and one that vforks children that exit at once.
const hostProgs = `
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static double secs;
static double since(struct timespec *t0) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}
static void *spin(void *a) {
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	volatile unsigned long x = 0;
	while (since(&t0) < secs)
		for (int i = 0; i < 1000000; i++) x++;
	return a;
}
int main(int argc, char **argv) {
	secs = atof(argv[2]);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!strcmp(argv[1], "cpu")) {
		int n = atoi(argv[3]);
		pthread_t th[64];
		for (int i = 0; i < n && i < 64; i++) pthread_create(&th[i], 0, spin, 0);
		for (int i = 0; i < n && i < 64; i++) pthread_join(th[i], 0);
	} else if (!strcmp(argv[1], "mem")) {
		size_t n = (size_t)atol(argv[3]) << 20;
		long page = sysconf(_SC_PAGESIZE);
		unsigned char *b = malloc(n);
		for (unsigned char v = 1; since(&t0) < secs; v++)
			for (size_t off = 0; off < n; off += page) b[off] = v ^ (unsigned char)(off >> 12);
	} else if (!strcmp(argv[1], "fork")) {
		signal(SIGCHLD, SIG_IGN); /* the kernel reaps the children */
		while (since(&t0) < secs)
			if (vfork() == 0) _exit(0);
	}
	return 0;
}
`

// hostCulprit builds the culprits as one program named name.
func hostCulprit(t *testing.T, name string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed: nothing to build the culprit with (make test installs it)")
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "culprit.c"), filepath.Join(dir, name)
	os.WriteFile(src, []byte(hostProgs), 0o644)
	if out, err := exec.Command(gcc, "-O1", "-pthread", "-o", bin, src).CombinedOutput(); err != nil {
		t.Skipf("gcc cannot build here: %v %s", err, out)
	}
	return bin
}

// hostFinding is a finding event as `stakeout events` prints it.
type hostFinding struct {
	Finding string         `json:"finding"`
	State   string         `json:"state"`
	Summary string         `json:"summary"`
	Data    map[string]any `json:"data"`
}

// hostSession runs `stakeout snapshot --probes host` for secs, calling act
// once the probe is up, and returns every finding event of the recording.
func hostSession(t *testing.T, secs int, act func()) []hostFinding {
	t.Helper()
	file := filepath.Join(t.TempDir(), "h.stk")
	cmd := exec.Command(binPath, "snapshot", "--probes", "host", "--duration", strconv.Itoa(secs)+"s", "-o", file, "--format", "json")
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	act()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("snapshot: %v: %s", err, errb.String())
	}
	r := run(t, nil, "events", file, "--kind", "finding")
	if r.code != 0 {
		t.Fatalf("events: %+v", r)
	}
	var out []hostFinding
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var f hostFinding
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// topPIDs are the pids a host finding's data names under "top".
func topPIDs(f hostFinding) []int {
	var out []int
	top, _ := f.Data["top"].([]any)
	for _, c := range top {
		m, _ := c.(map[string]any)
		if pid, ok := m["pid"].(float64); ok {
			out = append(out, int(pid))
		}
	}
	return out
}

func contains(pids []int, pid int) bool {
	for _, p := range pids {
		if p == pid {
			return true
		}
	}
	return false
}

// TestHostCPUHogIsNamed: twice as many spinning threads as CPUs (plus
// two) make everyone wait for CPU; host.pressure for cpu names the hog
// among the processes behind it.
func TestHostCPUHogIsNamed(t *testing.T) {
	share(t, loads)
	bin := hostCulprit(t, "hh-cpuhog")
	threads := min(2*runtime.NumCPU()+2, 64)
	var hog *exec.Cmd
	fs := hostSession(t, 16, func() {
		hog = exec.Command(bin, "cpu", "14", strconv.Itoa(threads))
		if err := hog.Start(); err != nil {
			t.Fatal(err)
		}
	})
	hog.Wait()
	var named, raised bool
	for _, f := range fs {
		if f.Finding != "host.pressure" || f.Data["resource"] != "cpu" {
			continue
		}
		raised = true
		if top := topPIDs(f); contains(top, hog.Process.Pid) {
			named = true
			t.Logf("%s (hog %d is #%d)", f.Summary, hog.Process.Pid, indexOf(top, hog.Process.Pid)+1)
		}
	}
	if !raised || !named {
		t.Errorf("no host.pressure for cpu naming the hog %d (raised: %v): %+v", hog.Process.Pid, raised, fs)
	}
}

func indexOf(pids []int, pid int) int {
	for i, p := range pids {
		if p == pid {
			return i
		}
	}
	return -1
}

// TestHostForkLoopIsNamed: after 14 s of this host's usual forking, a
// process vforks thousands of children a second for 8 s; host.fork_storm
// names it as the parent.
func TestHostForkLoopIsNamed(t *testing.T) {
	share(t, loads, afterOthers)
	testenv.NeedRoot(t, "the proc connector, which names the parent, needs CAP_NET_ADMIN")
	bin := hostCulprit(t, "hh-forkloop")
	var loop *exec.Cmd
	fs := hostSession(t, 24, func() {
		time.Sleep(13 * time.Second) // ten samples of history first
		loop = exec.Command(bin, "fork", "8")
		if err := loop.Start(); err != nil {
			t.Fatal(err)
		}
	})
	loop.Wait()
	for _, f := range fs {
		if f.Finding == "host.fork_storm" && f.Data["parent_pid"] == float64(loop.Process.Pid) && f.Data["parent_comm"] == "hh-forkloop" {
			t.Logf("%s", f.Summary)
			// The loop is nearly all of the forks: its rate is most of
			// the total even when the storm overflowed the connector.
			if parent, all := f.Data["parent_forks_per_s"].(float64), f.Data["forks_per_s"].(float64); parent < all/2 {
				t.Errorf("the loop forks %.0f/s of %.0f/s", parent, all)
			}
			return
		}
	}
	t.Errorf("no host.fork_storm naming %d: %+v", loop.Process.Pid, fs)
}

// memCgroup puts processes in a cgroup where memory runs short without an
// OOM kill, and returns its cgroup v2 path as the probe names it. With a
// cgroup v2 memory controller that is memory.high (the kernel throttles
// the group's allocations). On a hybrid host whose memory controller is
// on cgroup v1 (this build machine) there is no memory.high: the group
// gets a v1 memory limit, and swap on a zram device of its own so pages
// go to swap instead of the group being OOM-killed; a v2 group beside it
// (PSI is kept per v2 group whatever the controllers) is what the probe
// names.
func memCgroup(t *testing.T) (enter func(pid int), v2path string, swap bool) {
	t.Helper()
	testenv.NeedRoot(t, "to make cgroups")
	v2root := ""
	for _, d := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(d, "cgroup.controllers")); err == nil {
			v2root = d
		}
	}
	if v2root == "" {
		t.Skip("no cgroup v2 hierarchy: host.pressure names no cgroup here")
	}
	name := fmt.Sprintf("stk-h-host-%d", os.Getpid())
	v2 := filepath.Join(v2root, name)
	if err := os.Mkdir(v2, 0o755); err != nil {
		t.Skipf("cannot make a cgroup v2 group: %v", err)
	}
	t.Cleanup(func() { rmdirEventually(v2) })
	dirs := []string{v2}
	ctl, _ := os.ReadFile(filepath.Join(v2root, "cgroup.subtree_control"))
	switch {
	case strings.Contains(string(ctl), "memory"):
		if err := os.WriteFile(filepath.Join(v2, "memory.high"), []byte("32M"), 0o644); err != nil {
			t.Fatal(err)
		}
	default:
		v1 := filepath.Join("/sys/fs/cgroup/memory", name)
		if err := os.Mkdir(v1, 0o755); err != nil {
			t.Skipf("no memory.high (the memory controller is not on cgroup v2) and no cgroup v1 memory group: %v", err)
		}
		t.Cleanup(func() { rmdirEventually(v1) })
		if err := os.WriteFile(filepath.Join(v1, "memory.limit_in_bytes"), []byte("48M"), 0o644); err != nil {
			t.Fatal(err)
		}
		zramSwap(t)
		dirs, swap = append(dirs, v1), true
	}
	return func(pid int) {
		for _, d := range dirs {
			if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}, "/" + name, swap
}

// zramSwap turns on 512 MiB of swap on a zram device of the test's own,
// and off again (and the device removed) at cleanup.
func zramSwap(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"mkswap", "swapon", "swapoff"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (util-linux)", tool)
		}
	}
	b, err := os.ReadFile("/sys/class/zram-control/hot_add")
	if err != nil {
		t.Skipf("no zram here for swap: %v", err)
	}
	n := strings.TrimSpace(string(b))
	dev := "/dev/zram" + n
	t.Cleanup(func() {
		exec.Command("swapoff", dev).Run()
		os.WriteFile("/sys/class/zram-control/hot_remove", []byte(n), 0o644)
	})
	if err := os.WriteFile("/sys/block/zram"+n+"/disksize", []byte("512M"), 0o644); err != nil {
		t.Skipf("zram%s: %v", n, err)
	}
	for _, c := range [][]string{{"mkswap", dev}, {"swapon", dev}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Skipf("%v: %v %s", c, err, out)
		}
	}
}

func rmdirEventually(dir string) {
	for i := 0; i < 100 && os.Remove(dir) != nil; i++ {
		time.Sleep(50 * time.Millisecond) // its processes are still exiting
	}
}

// TestHostMemoryHogInACgroupIsNamed: two processes keep rewriting 96 MiB
// each in a cgroup that may hold far less; memory pressure rises without
// an OOM kill. host.pressure for memory names the cgroup and a hog first;
// where the group swaps, host.swap_storm is raised too.
func TestHostMemoryHogInACgroupIsNamed(t *testing.T) {
	share(t, loads)
	bin := hostCulprit(t, "hh-memhog")
	enter, path, swap := memCgroup(t)
	var hogs []*exec.Cmd
	fs := hostSession(t, 26, func() {
		for range 2 {
			// A shell joins the groups, then becomes the hog.
			c := exec.Command("sh", "-c", `read go; exec "$0" mem 23 96`, bin)
			in, _ := c.StdinPipe()
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			enter(c.Process.Pid)
			in.Write([]byte("go\n"))
			in.Close()
			hogs = append(hogs, c)
		}
	})
	for _, h := range hogs {
		if err := h.Wait(); err != nil {
			t.Errorf("a hog did not end well (an OOM kill?): %v", err)
		}
	}
	var pressure, storm bool
	for _, f := range fs {
		switch {
		case f.Finding == "host.pressure" && f.Data["resource"] == "memory" && f.Data["cgroup"] == path:
			if top := topPIDs(f); len(top) > 0 && (top[0] == hogs[0].Process.Pid || top[0] == hogs[1].Process.Pid) {
				if !pressure {
					t.Logf("%s", f.Summary)
				}
				pressure = true
			}
		case f.Finding == "host.swap_storm":
			storm = true
		}
	}
	if !pressure {
		t.Errorf("no host.pressure for memory naming cgroup %s and a hog first: %+v", path, fs)
	}
	if swap && !storm {
		t.Errorf("the group swapped both ways, and no host.swap_storm: %+v", fs)
	}
}

// hostEvent is what the oracle test reads of a host sample.
type hostEvent struct {
	Time time.Time `json:"time"`
	CPU  struct {
		User, Nice, System, IOWait, IRQ, SoftIRQ, Steal, Idle float64
	} `json:"cpu"`
	Mem struct {
		Total     uint64 `json:"total_bytes"`
		Used      uint64 `json:"used_bytes"`
		Available uint64 `json:"available_bytes"`
		Buffers   uint64 `json:"buffers_bytes"`
		Cached    uint64 `json:"cached_bytes"`
	} `json:"mem"`
}

func (e *hostEvent) UnmarshalJSON(b []byte) error {
	type plain hostEvent
	var w struct {
		plain
		CPU map[string]float64 `json:"cpu"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = hostEvent(w.plain)
	c := w.CPU
	e.CPU.User, e.CPU.Nice, e.CPU.System, e.CPU.IOWait = c["user"], c["nice"], c["system"], c["iowait"]
	e.CPU.IRQ, e.CPU.SoftIRQ, e.CPU.Steal, e.CPU.Idle = c["irq"], c["softirq"], c["steal"], c["idle"]
	return nil
}

// nearest is the sample whose time is nearest at, if one is within a second.
func nearest(evs []hostEvent, at time.Time) (hostEvent, bool) {
	best, bd := hostEvent{}, time.Duration(math.MaxInt64)
	for _, e := range evs {
		if d := e.Time.Sub(at).Abs(); d < bd {
			best, bd = e, d
		}
	}
	return best, bd <= time.Second
}

// TestHostAgreesWithVmstatAndFree samples `vmstat 1` and `free -b` in the
// same seconds as the host probe. CPU by mode, averaged over the seconds
// each vmstat line is paired with a sample (the sample whose end is
// nearest the line's timestamp), agrees within 10 points: the two
// intervals are offset by up to half a second on a host whose load moves.
// Memory, read by free and by the probe within a second of each other,
// agrees within 2% of RAM; total exactly.
func TestHostAgreesWithVmstatAndFree(t *testing.T) {
	share(t, timing)
	for _, tool := range []string{"vmstat", "free"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make test installs procps)", tool)
		}
	}
	file := filepath.Join(t.TempDir(), "o.stk")
	snap := exec.Command(binPath, "snapshot", "--probes", "host", "--duration", "10s", "-o", file, "--format", "json")
	vm := exec.Command("vmstat", "-n", "-t", "1", "9")
	vm.Env = append(os.Environ(), "TZ=UTC")
	var vmOut strings.Builder
	vm.Stdout = &vmOut
	if err := snap.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := vm.Start(); err != nil {
		t.Fatal(err)
	}
	type freeAt struct {
		at                            time.Time
		total, used, buffcache, avail uint64
	}
	var frees []freeAt
	for range 7 {
		time.Sleep(time.Second)
		out, err := exec.Command("free", "-b").Output()
		at := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) == 7 && f[0] == "Mem:" {
				n := func(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v }
				frees = append(frees, freeAt{at, n(f[1]), n(f[2]), n(f[5]), n(f[6])})
			}
		}
	}
	if err := vm.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := snap.Wait(); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "events", file, "--kind", "host")
	var evs []hostEvent
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var e hostEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}

	var pairs int
	var us, sy, id, wa, ous, osy, oid, owa float64
	lines := strings.Split(strings.TrimSpace(vmOut.String()), "\n")
	for _, l := range lines[min(3, len(lines)):] { // two header lines, then the since-boot averages
		f := strings.Fields(l)
		if len(f) < 19 {
			continue
		}
		at, err := time.Parse("2006-01-02 15:04:05", f[17]+" "+f[18])
		if err != nil {
			t.Fatalf("vmstat line %q: %v", l, err)
		}
		e, ok := nearest(evs, at)
		if !ok {
			continue
		}
		v := func(i int) float64 { x, _ := strconv.ParseFloat(f[i], 64); return x }
		us, sy, id, wa = us+v(12), sy+v(13), id+v(14), wa+v(15)
		c := e.CPU
		ous, osy, oid, owa = ous+c.User+c.Nice, osy+c.System+c.IRQ+c.SoftIRQ, oid+c.Idle, owa+c.IOWait
		pairs++
	}
	if pairs < 5 {
		t.Fatalf("only %d vmstat lines paired with a sample:\n%s\n%+v", pairs, vmOut.String(), evs)
	}
	p := float64(pairs)
	t.Logf("over %d s: vmstat us %.1f sy %.1f id %.1f wa %.1f; stakeout user+nice %.1f system+irq+softirq %.1f idle %.1f iowait %.1f",
		pairs, us/p, sy/p, id/p, wa/p, ous/p, osy/p, oid/p, owa/p)
	for _, c := range []struct {
		name        string
		theirs, our float64
	}{{"us", us, ous}, {"sy", sy, osy}, {"id", id, oid}, {"wa", wa, owa}} {
		if math.Abs(c.theirs-c.our)/p > 10 {
			t.Errorf("%s: vmstat %.1f, stakeout %.1f: more than 10 points apart", c.name, c.theirs/p, c.our/p)
		}
	}

	checked := 0
	for _, fr := range frees {
		e, ok := nearest(evs, fr.at)
		if !ok {
			continue
		}
		checked++
		m := e.Mem
		tol := float64(fr.total) * 0.02
		diff := func(a, b uint64) float64 { return math.Abs(float64(a) - float64(b)) }
		if m.Total != fr.total || diff(m.Used, fr.used) > tol || diff(m.Available, fr.avail) > tol || diff(m.Buffers+m.Cached, fr.buffcache) > tol {
			t.Errorf("free at %s: total %d used %d buff/cache %d available %d; stakeout at %s: %+v",
				fr.at.Format(time.TimeOnly), fr.total, fr.used, fr.buffcache, fr.avail, e.Time.Format(time.TimeOnly), m)
		}
	}
	if checked < 4 {
		t.Errorf("only %d free readings within a second of a sample", checked)
	}
}
