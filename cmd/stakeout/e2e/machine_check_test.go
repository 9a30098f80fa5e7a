//go:build linux

package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
// light tests in the room the others leave; loading ones one at a time;
// one that needs the machine alone, alone; the whole-host watcher last,
// beside a quiet test only.
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
	step(nil, "light1", "light2", "timing1", "timing2")
	step([]string{"timing1", "timing2"}, "light1", "light2", "loads1")
	step([]string{"light1", "light2", "loads1"}, "loads2")
	step([]string{"loads2"}, "alone")
	if got := tk["alone"].beside; len(got) != 0 {
		t.Errorf("alone started beside %v", got)
	}
	step([]string{"alone"}, "quiet", "watcher")
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
