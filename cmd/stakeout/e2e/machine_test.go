//go:build linux

package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests of this package run side by side. Most of an end-to-end test
// is waiting (a snapshot's --duration, a heartbeat learning its period,
// an ssh session), but some load the machine (2 cores) for seconds, others
// measure times and rates a loaded machine would spoil, and one records
// the whole host and must see nobody else's trouble. So each test starts
// with share(t, needs...), which says what it needs of the machine and
// waits until that holds:
//
//	share(t)                   light: mostly waits, and nothing it checks depends on how busy the machine is
//	share(t, timing)           checks times or rates: beside other timing tests and light ones
//	share(t, loads)            saturates the CPUs or memory: beside light tests only
//	share(t, alone)            nothing else of this package beside it (a flood that must be captured whole)
//	share(t, watchesHost)      records the whole host, and anyone's critical finding or racy signal fails it:
//	                           beside quiet tests only
//	share(t, …, quiet)         does nothing a whole-host watcher would take for trouble (no signals, no
//	                           critical findings, no crashes): it may run beside watchesHost
//	share(t, …, crashes)       changes core_pattern or exception-trace, or crashes a process the kernel logs
//	share(t, …, afterOthers)   would spoil another package's test, or be spoiled by one (a fork storm
//	                           overflows their proc connector, a flood on lo, a line in the kernel log), so
//	                           it waits until go test runs nothing but this package
//	share(t, …, long)          runs for half a minute or more: started before the others of its phase
//
// They start in phases, each test as soon as what it needs is free and no
// test before it waits for that: first the timing tests, while go test
// runs the other packages, then those that need the machine alone, then
// the loading ones one after the other, then, once the other packages are
// done, those that wait for that, with light tests beside the loading
// ones, and last the whole-host watcher with the quiet timing tests. At
// most -parallel tests run at once: TestMain lets go test start every
// test (takeParallel), and share keeps to that number.
func share(t *testing.T, needs ...need) {
	t.Helper()
	tk := machine.register(t.Name(), needs)
	t.Parallel()
	// Every test has registered by now: go test resumes the paused ones
	// only once each test function has begun.
	machine.kick()
	<-tk.admitted
	t.Cleanup(func() { machine.release(tk) })
	// Shown if the test fails (or with -v): what ran beside it.
	t.Logf("started after waiting %v, beside %v", time.Since(tk.since).Round(time.Second), tk.beside)
}

// mode is how a test holds one of the machine's resources.
type mode int

const (
	none mode = iota
	shared
	excl
)

// need is what a test asks of one resource.
type need struct {
	res  string
	mode mode
}

var (
	timing      = need{"cpus", shared}
	loads       = need{"cpus", excl}
	alone       = need{"machine", excl}
	watchesHost = need{"host", excl}
	quiet       = need{"host", none}
	crashes     = need{"crash", excl}
	afterOthers = need{"others", shared} // held alone by the rest of go test's run until it ends (awaitOthers)
	long        = need{res: "long"}      // not a resource: an order
)

var machine = newScheduler(1)

// takeParallel gives the scheduler -parallel, as given or by default, and
// lets go test start every test at once, so that they all wait in share,
// in its order. Call it after flag.Parse.
func takeParallel() {
	f := flag.Lookup("test.parallel")
	var n int
	if _, err := fmt.Sscan(f.Value.String(), &n); err == nil && n > 0 {
		machine.slots = n
	}
	if err := f.Value.Set("100000"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

type ticket struct {
	name     string
	needs    map[string]mode
	phase    int
	long     bool
	seq      int
	admitted chan struct{}
	since    time.Time
	beside   []string // the tests running when it started
}

type scheduler struct {
	mu      sync.Mutex
	slots   int
	running map[*ticket]bool
	held    map[string]int // shared holders, or -1 while one holds it alone
	waiting []*ticket      // by phase, long ones first, then in the order the tests began
	seq     int
}

func newScheduler(slots int) *scheduler {
	return &scheduler{slots: slots, held: map[string]int{}, running: map[*ticket]bool{}}
}

// register queues a test; kick then starts what may start.
func (s *scheduler) register(name string, needs []need) *ticket {
	tk := &ticket{name: name, admitted: make(chan struct{}), since: time.Now(),
		needs: map[string]mode{"machine": shared, "host": shared}}
	for _, n := range needs {
		if n == long {
			tk.long = true
			continue
		}
		tk.needs[n.res] = n.mode
	}
	tk.phase = phaseOf(tk.needs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	tk.seq = s.seq
	i, _ := slices.BinarySearchFunc(s.waiting, tk, func(a, b *ticket) int {
		switch {
		case a.phase != b.phase:
			return a.phase - b.phase
		case a.long != b.long && a.long:
			return -1
		case a.long != b.long:
			return 1
		}
		return a.seq - b.seq
	})
	s.waiting = slices.Insert(s.waiting, i, tk)
	return tk
}

// phaseOf: timing tests, then those that need the machine alone, then
// those that load it, then those that wait for the other packages, then
// light ones, then the whole-host watcher and the quiet timing tests
// beside it. Light tests come late so as to fill the room beside the
// loading ones rather than go first: a loading test waits only for the
// one before it, while a test that needs the machine alone, once it is
// next, keeps new ones from starting.
func phaseOf(n map[string]mode) int {
	switch {
	case n["host"] == excl, n["cpus"] == shared && n["host"] == none:
		return 5
	case n["others"] != none:
		return 3
	case n["cpus"] == shared:
		return 0
	case n["machine"] == excl:
		return 1
	case n["cpus"] == excl:
		return 2
	}
	return 4
}

func (s *scheduler) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admit()
}

func (s *scheduler) release(tk *ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, tk)
	for r, m := range tk.needs {
		switch m {
		case shared:
			s.held[r]--
		case excl:
			s.held[r] = 0
		}
	}
	s.admit()
}

// admit starts every waiting test, in order, whose resources are free and
// not promised to a test before it: each resource is promised to the first
// waiting test that needs it, so a test that needs one alone gets it once
// the tests holding it end, and is not kept waiting by later ones.
func (s *scheduler) admit() {
	promised := map[string]mode{}
	left := s.waiting[:0]
	for _, tk := range s.waiting {
		if len(s.running) < s.slots && s.free(tk, promised) {
			for o := range s.running {
				tk.beside = append(tk.beside, o.name)
			}
			slices.Sort(tk.beside)
			s.running[tk] = true
			for r, m := range tk.needs {
				switch m {
				case shared:
					s.held[r]++
				case excl:
					s.held[r] = -1
				}
			}
			close(tk.admitted)
			continue
		}
		for r, m := range tk.needs {
			if promised[r] == none {
				promised[r] = m
			}
		}
		left = append(left, tk)
	}
	clear(s.waiting[len(left):])
	s.waiting = left
}

func (s *scheduler) free(tk *ticket, promised map[string]mode) bool {
	for r, m := range tk.needs {
		switch {
		case m == shared && (s.held[r] < 0 || promised[r] == excl):
			return false
		case m == excl && (s.held[r] != 0 || promised[r] != none):
			return false
		}
	}
	return true
}

// awaitOthers holds "others" for the rest of the go test run this test
// binary is part of (its parent is the go command, whose other children
// are the other packages' builds and test binaries), and lets it go once
// the go command has run nothing else for 2 s. Run any other way, there
// is nothing to wait for.
func (s *scheduler) awaitOthers() {
	parent := os.Getppid()
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", parent)); strings.TrimSpace(string(comm)) != "go" {
		return
	}
	s.mu.Lock()
	s.held["others"] = -1
	s.mu.Unlock()
	go func() {
		for quiet := 0; quiet < 8; {
			time.Sleep(250 * time.Millisecond)
			quiet++
			if othersRunning(parent, os.Getpid()) {
				quiet = 0
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.held["others"] = 0
		s.admit()
	}()
}

// othersRunning is whether parent has a live child (not a zombie) other
// than self.
func othersRunning(parent, self int) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		i := bytes.LastIndexByte(stat, ')')
		if err != nil || i < 0 {
			continue
		}
		if f := strings.Fields(string(stat[i+1:])); len(f) > 1 && f[0] != "Z" && f[1] == strconv.Itoa(parent) {
			return true
		}
	}
	return false
}
