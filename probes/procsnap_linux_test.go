package probes

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
	"golang.org/x/sys/unix"
)

// threadsEnv makes a re-executed test binary hold N OS threads, each
// blocked in a read of a pipe, print "ready" and wait to be killed.
const threadsEnv = "STAKEOUT_TEST_THREADS"

func init() {
	n, err := strconv.Atoi(os.Getenv(threadsEnv))
	if err != nil || n <= 0 {
		return
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ready := make(chan struct{}, n)
	for range n {
		go func() {
			runtime.LockOSThread() // never unlocked: each goroutine keeps a thread of its own
			ready <- struct{}{}
			var b [1]byte
			unix.Read(p[0], b[:]) // blocks for good: nothing writes
		}()
	}
	for range n {
		<-ready
	}
	fmt.Println("ready")
	select {}
}

// startHelper re-executes the test binary with env and waits for "ready".
func startHelper(t *testing.T, env string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		t.Fatalf("helper did not get ready: %q %v", sc.Text(), sc.Err())
	}
	return cmd.Process.Pid
}

// TestReadProcessSleep reads a real process (a shell that lowered its soft
// core limit, then exec'd sleep) and checks each part against what the
// kernel says through other doors: prlimit(2), the test's own pid as its
// parent, the stack of a sleeping task.
func TestReadProcessSleep(t *testing.T) {
	testenv.NeedRoot(t, "kernel stacks (/proc/PID/task/TID/stack) are root's to read")
	cmd := exec.Command("sh", "-c", "ulimit -S -c 0; exec sleep 60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	testenv.Eventually(t, 5e9, "the shell to exec sleep and sleep", func() bool {
		s, err := ReadProcess("/proc", pid)
		return err == nil && s.Comm == "sleep" && s.State == "S" && s.Wchan != ""
	})
	s, err := ReadProcess("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Cmdline, []string{"sleep", "60"}) {
		t.Errorf("cmdline %q", s.Cmdline)
	}
	if s.PPID != os.Getpid() || len(s.Parents) == 0 || s.Parents[0].PID != os.Getpid() {
		t.Errorf("ppid %d, parents %+v; want the test (%d) first", s.PPID, s.Parents, os.Getpid())
	}
	if last := s.Parents[len(s.Parents)-1]; last.PID != 1 {
		t.Errorf("parent chain ends at %+v, want pid 1", last)
	}
	var rl unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_CORE, nil, &rl); err != nil {
		t.Fatal(err)
	}
	core, ok := s.Limits["core"]
	wantHard := int64(rl.Max)
	if rl.Max == unix.RLIM_INFINITY {
		wantHard = -1
	}
	if !ok || core.Soft != 0 || core.Hard != wantHard || core.Unit != "bytes" {
		t.Errorf("core limit %+v (found %v), want soft 0 hard %d bytes", core, ok, wantHard)
	}
	if _, ok := s.Limits["nofile"]; !ok {
		t.Errorf("no nofile limit in %v", s.Limits)
	}
	if s.ThreadsTotal != 1 || len(s.Threads) != 1 || s.Threads[0].TID != pid || s.Threads[0].State != "S" {
		t.Fatalf("threads %d %+v", s.ThreadsTotal, s.Threads)
	}
	if th := s.Threads[0]; th.Wchan != s.Wchan || len(th.Stack) == 0 || !strings.Contains(strings.Join(th.Stack, "\n"), "nanosleep") {
		t.Errorf("thread wchan %q (process %q), stack %q: want a nanosleep frame", th.Wchan, s.Wchan, th.Stack)
	}
	if strings.HasPrefix(s.Threads[0].Stack[0], "[<") {
		t.Errorf("stack line keeps its address prefix: %q", s.Threads[0].Stack[0])
	}
	if s.FDsTotal < 3 || len(s.FDs) != s.FDsTotal || s.FDs[0].FD != 0 {
		t.Errorf("fds %d %+v", s.FDsTotal, s.FDs)
	}
	if s.IO == nil || s.Cgroup == "" || s.Started.IsZero() || s.UID != 0 || len(s.Errors) > 0 {
		t.Errorf("io %v cgroup %q started %v uid %d errors %q", s.IO, s.Cgroup, s.Started, s.UID, s.Errors)
	}
	if s.Truncated {
		t.Error("a one-thread sleep was truncated")
	}
}

// TestReadProcessManyFDs: a process with 10,000 open fds is listed up to
// the cap, counted in full, and fits the event bound.
func TestReadProcessManyFDs(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 10100 {
		t.Skipf("RLIMIT_NOFILE %d is under 10100 (%v)", rl.Cur, err)
	}
	var fds []int
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	for range 10000 {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	s, err := ReadProcess("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.FDsTotal < 10000 || len(s.FDs) != schema.MaxSnapFDs || !s.Truncated {
		t.Errorf("fds_total %d, listed %d (cap %d), truncated %v", s.FDsTotal, len(s.FDs), schema.MaxSnapFDs, s.Truncated)
	}
	for i := 1; i < len(s.FDs); i++ {
		if s.FDs[i].FD <= s.FDs[i-1].FD {
			t.Fatalf("fds not lowest first: %+v", s.FDs[i-1:i+1])
		}
	}
	if s.FDs[len(s.FDs)-1].Target != "/dev/null" {
		t.Errorf("last listed fd points at %q", s.FDs[len(s.FDs)-1].Target)
	}
	if b, _ := json.Marshal(s); len(b) > schema.MaxSnapshotBytes {
		t.Errorf("snapshot is %d bytes of JSON, bound %d", len(b), schema.MaxSnapshotBytes)
	}
}

// TestReadProcessManyThreads: a process with more threads than are scanned
// is counted in full, its states counted over the scanned ones, and only
// MaxSnapThreads are listed, the main thread first.
func TestReadProcessManyThreads(t *testing.T) {
	testenv.NeedRoot(t, "kernel stacks are root's to read")
	n := schema.MaxSnapThreadsScanned + 200
	pid := startHelper(t, threadsEnv+"="+strconv.Itoa(n))
	s, err := ReadProcess("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if s.ThreadsTotal < n {
		t.Errorf("threads_total %d, want at least %d", s.ThreadsTotal, n)
	}
	scanned := 0
	for _, c := range s.ThreadStates {
		scanned += c
	}
	if scanned != schema.MaxSnapThreadsScanned {
		t.Errorf("thread states count %d threads (%v), want the scan cap %d", scanned, s.ThreadStates, schema.MaxSnapThreadsScanned)
	}
	if len(s.Threads) != schema.MaxSnapThreads || !s.Truncated {
		t.Fatalf("listed %d threads (cap %d), truncated %v", len(s.Threads), schema.MaxSnapThreads, s.Truncated)
	}
	if s.Threads[0].TID != pid {
		t.Errorf("first listed thread %d, want the main thread %d (no thread is in D)", s.Threads[0].TID, pid)
	}
	stacks := 0
	for _, th := range s.Threads {
		if len(th.Stack) > 0 {
			stacks++
		}
		if len(th.Stack) > schema.MaxSnapStackLines {
			t.Errorf("thread %d has %d stack lines", th.TID, len(th.Stack))
		}
	}
	if stacks < len(s.Threads)/2 {
		t.Errorf("only %d of %d listed threads have a kernel stack", stacks, len(s.Threads))
	}
	if b, _ := json.Marshal(s); len(b) > schema.MaxSnapshotBytes {
		t.Errorf("snapshot is %d bytes of JSON, bound %d", len(b), schema.MaxSnapshotBytes)
	}
}

func TestReadProcessGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	_, err := ReadProcess("/proc", cmd.Process.Pid)
	if err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("reaped pid %d: %v, want no such process", cmd.Process.Pid, err)
	}
}

func TestParseLimits(t *testing.T) {
	in := "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max cpu time              unlimited            unlimited            seconds   \n" +
		"Max core file size        0                    unlimited            bytes     \n" +
		"Max open files            1024                 524288               files     \n" +
		"Max nice priority         0                    0                    \n" +
		"Max new thing             7                    9                    widgets   \n"
	got, err := parseLimits([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]schema.Limit{
		"cpu":       {Soft: -1, Hard: -1, Unit: "seconds"},
		"core":      {Soft: 0, Hard: -1, Unit: "bytes"},
		"nofile":    {Soft: 1024, Hard: 524288, Unit: "files"},
		"nice":      {Soft: 0, Hard: 0},
		"new_thing": {Soft: 7, Hard: 9, Unit: "widgets"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %+v, want %+v", k, got[k], w)
		}
	}
	if _, err := parseLimits([]byte("garbage\nmore")); err == nil {
		t.Error("a file without the header parsed")
	}
}
