//go:build linux

package e2e

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/testenv"
)

// TestEveryTestShares: each test of this package begins with share, and
// none calls t.Parallel itself (a subtest may, inside its parent's turn).
// TestMain lets go test start every parallel test at once, so a test that
// did not wait in share would run beside anything: a flood beside a
// timing test.
func TestEveryTestShares(t *testing.T) {
	share(t)
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	tests := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Test") || fn.Name.Name == "TestMain" {
				continue
			}
			tests++
			if !startsWithShare(fn) {
				t.Errorf("%s: %s does not begin with share(t, …)", fset.Position(fn.Pos()), fn.Name.Name)
			}
			if at := ownParallel(fn); at.IsValid() {
				t.Errorf("%s: %s calls t.Parallel itself; share does", fset.Position(at), fn.Name.Name)
			}
		}
	}
	if tests < 100 {
		t.Fatalf("found %d tests: is the walk looking in the right place?", tests)
	}
}

func startsWithShare(fn *ast.FuncDecl) bool {
	if len(fn.Body.List) == 0 {
		return false
	}
	stmt, ok := fn.Body.List[0].(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := stmt.X.(*ast.CallExpr)
	if !ok {
		return false
	}
	id, ok := call.Fun.(*ast.Ident)
	return ok && id.Name == "share"
}

// ownParallel is where fn calls Parallel on its own *testing.T, if it does.
func ownParallel(fn *ast.FuncDecl) token.Pos {
	params := fn.Type.Params.List
	if len(params) != 1 || len(params[0].Names) != 1 {
		return token.NoPos
	}
	own := params[0].Names[0].Obj
	at := token.NoPos
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Parallel" {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Obj == own {
			at = sel.Pos()
		}
		return true
	})
	return at
}

// TestShareKeepsTestsApart plays the scheduler through a run of nine
// tests on four slots: timing tests first, and never beside a loading one;
// then the one that needs the machine alone, alone (no light test starts
// while it is next); light tests beside the loading ones, which run one at
// a time; the whole-host watcher last, beside a quiet test only.
func TestShareKeepsTestsApart(t *testing.T) {
	share(t)
	s := newScheduler(4)
	tk := map[string]*ticket{}
	for _, r := range []struct {
		name  string
		needs []need
	}{
		{"light1", nil}, {"timing1", []need{timing}}, {"loads1", []need{loads}}, {"loads2", []need{loads}},
		{"alone", []need{alone}}, {"light2", nil}, {"quiet", []need{timing, quiet}},
		{"watcher", []need{watchesHost, long}}, {"timing2", []need{timing}},
	} {
		tk[r.name] = s.register(r.name, r.needs)
	}
	running := func() []string {
		var names []string
		for k := range s.running {
			names = append(names, k.name)
		}
		slices.Sort(names)
		return names
	}
	step := func(end []string, want ...string) {
		t.Helper()
		for _, name := range end {
			s.release(tk[name])
		}
		s.kick()
		if got := running(); !slices.Equal(got, want) {
			t.Fatalf("after %v ended: running %v, want %v", end, got, want)
		}
		for _, name := range want {
			select {
			case <-tk[name].admitted:
			default:
				t.Fatalf("%s runs but was not let start", name)
			}
		}
	}
	step(nil, "timing1", "timing2")
	step([]string{"timing1", "timing2"}, "alone")
	if got := tk["alone"].beside; len(got) != 0 {
		t.Errorf("alone started beside %v", got)
	}
	step([]string{"alone"}, "light1", "light2", "loads1")
	step([]string{"light1", "light2", "loads1"}, "loads2")
	step([]string{"loads2"}, "quiet", "watcher")
	step([]string{"quiet", "watcher"})
	for r, n := range s.held {
		if n != 0 {
			t.Errorf("%s still held (%d) once every test ended", r, n)
		}
	}
}

// TestShareLongFirst: of two tests of a phase, the long one starts first
// though it began second.
func TestShareLongFirst(t *testing.T) {
	share(t)
	s := newScheduler(1)
	sh, lg := s.register("short", []need{timing, quiet}), s.register("long", []need{watchesHost, long})
	s.kick()
	if !s.running[lg] || s.running[sh] {
		t.Fatalf("the long test did not start first")
	}
}

// TestShareCrashesOneAtATime: two tests that change the kernel's crash
// settings never run together, however many slots there are.
func TestShareCrashesOneAtATime(t *testing.T) {
	share(t)
	s := newScheduler(8)
	a, b := s.register("a", []need{crashes}), s.register("b", []need{crashes})
	s.kick()
	if len(s.running) != 1 || !s.running[a] {
		t.Fatalf("running %d tests, want a alone", len(s.running))
	}
	s.release(a)
	if len(s.running) != 1 || !s.running[b] {
		t.Fatalf("after a: running %d tests, want b", len(s.running))
	}
}

// TestShareAfterOthers: while the rest of go test's run goes on, a test
// that waits for it does not start, and light ones do; once it has ended,
// the test starts.
func TestShareAfterOthers(t *testing.T) {
	share(t)
	s := newScheduler(4)
	s.held["others"] = -1 // as awaitOthers holds it
	gated, light := s.register("gated", []need{loads, afterOthers}), s.register("light", nil)
	s.kick()
	if s.running[gated] || !s.running[light] {
		t.Fatalf("before the others ended: gated running %v, light running %v", s.running[gated], s.running[light])
	}
	s.mu.Lock()
	s.held["others"] = 0
	s.admit()
	s.mu.Unlock()
	if !s.running[gated] {
		t.Fatal("the gated test did not start once the others ended")
	}
}

// TestOthersRunningSeesAChild: othersRunning finds a process's live
// child, leaves out the one it is told is itself, and takes a zombie for
// gone. The parent is a sleep that was a shell which started another sleep
// in the background, so that child is its only one and is never reaped.
func TestOthersRunningSeesAChild(t *testing.T) {
	share(t)
	sh := exec.Command("sh", "-c", "sleep 300 & echo $!; exec sleep 300")
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	var child int
	if _, err := fmt.Fscan(out, &child); err != nil {
		t.Fatal(err)
	}
	parent := sh.Process.Pid
	if !othersRunning(parent, 0) {
		t.Errorf("child %d of %d not seen", child, parent)
	}
	if othersRunning(parent, child) {
		t.Errorf("child %d seen though it is self", child)
	}
	syscall.Kill(child, syscall.SIGKILL)
	testenv.Eventually(t, 5*time.Second, "the killed child a zombie", func() bool {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		return strings.Contains(string(stat), ") Z ")
	})
	if othersRunning(parent, 0) {
		t.Errorf("the zombie %d was taken for a running child", child)
	}
}
