package layering

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function of non-test code may be, counted
// from its func keyword to its closing brace (issue 13).
const maxFuncLines = 80

// longFuncsElsewhere are functions over maxFuncLines allowed for a while
// (each as its module-relative file and name), while a branch that splits
// them is in flight; the test fails when one is no longer too long. It is
// empty: split a long function rather than list it.
var longFuncsElsewhere = map[string]bool{}

// funcLen is one function of the module and its length in lines.
type funcLen struct {
	key   string // file and name, as in longFuncsElsewhere
	line  int
	lines int
}

// TestNoLongFunctions parses every non-test Go file of the module and
// fails naming each function longer than maxFuncLines, unless it is
// allowlisted, and each allowlisted function that is no longer too long
// (or no longer there), so the list cannot go stale.
func TestNoLongFunctions(t *testing.T) {
	funcs, err := moduleFuncs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(funcs) < 100 {
		t.Fatalf("found only %d functions in the module: is the walk looking in the right place?", len(funcs))
	}
	tooLong := map[string]bool{}
	for _, f := range funcs {
		if f.lines <= maxFuncLines {
			continue
		}
		tooLong[f.key] = true
		if !longFuncsElsewhere[f.key] {
			t.Errorf("%s (line %d) is %d lines, over %d: split it into named steps", f.key, f.line, f.lines, maxFuncLines)
		}
	}
	for key := range longFuncsElsewhere {
		if !tooLong[key] {
			t.Errorf("%s is allowlisted as over %d lines but is not (any more): take it off longFuncsElsewhere", key, maxFuncLines)
		}
	}
}

// TestFuncLengthCounts checks the counting on a file made for it: from the
// func keyword to the closing brace, doc comment left out, a method named
// with its receiver, a long function literal outside any function found.
func TestFuncLengthCounts(t *testing.T) {
	src := "package p\n\n" + // lines 1-2
		"// short has a doc comment that does not count.\n" + // 3
		"func short() {\n}\n\n" + // 4-6: 2 lines
		"func (r *T) long() {\n" + strings.Repeat("\t_ = 1\n", 79) + "}\n\n" + // 7-87: 81 lines
		"func (T) exact() {\n" + strings.Repeat("\t_ = 1\n", 78) + "}\n\n" + // 89-168: 80 lines
		"var v = func() {\n" + strings.Repeat("\t_ = 1\n", 80) + "}\n" // 170-251: 82 lines
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, fn := range fileFuncs(fset, "p/x.go", f) {
		got[fn.key] = fn.lines
	}
	want := map[string]int{
		"p/x.go short":                    2,
		"p/x.go (*T).long":                81,
		"p/x.go (T).exact":                80,
		"p/x.go func literal at line 170": 82,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counted %v, want %v", got, want)
	}
}

// moduleFuncs lists the functions of every non-test Go file under root,
// whatever its build constraints, leaving out testdata and hidden
// directories.
func moduleFuncs(root string) ([]funcLen, error) {
	fset := token.NewFileSet()
	var funcs []funcLen
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		funcs = append(funcs, fileFuncs(fset, filepath.ToSlash(rel), f)...)
		return nil
	})
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].key < funcs[j].key })
	return funcs, err
}

// fileFuncs lists a file's functions and methods, and the function
// literals outside them (one inside a function is counted in it).
func fileFuncs(fset *token.FileSet, rel string, f *ast.File) []funcLen {
	var funcs []funcLen
	add := func(name string, from, to token.Pos) {
		start, end := fset.Position(from).Line, fset.Position(to).Line
		funcs = append(funcs, funcLen{key: rel + " " + name, line: start, lines: end - start + 1})
	}
	for _, decl := range f.Decls {
		if fn, ok := decl.(*ast.FuncDecl); ok {
			add(funcName(fn), fn.Pos(), fn.End())
			continue
		}
		ast.Inspect(decl, func(n ast.Node) bool {
			lit, ok := n.(*ast.FuncLit)
			if !ok {
				return true
			}
			add(fmt.Sprintf("func literal at line %d", fset.Position(lit.Pos()).Line), lit.Pos(), lit.End())
			return false
		})
	}
	return funcs
}

// funcName is a function's name, a method's with its receiver's type:
// "(*T).m" or "(T).m".
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	star := ""
	if s, ok := typ.(*ast.StarExpr); ok {
		star, typ = "*", s.X
	}
	// A generic receiver, T[K] or T[K, V]: the type's name alone.
	switch x := typ.(type) {
	case *ast.IndexExpr:
		typ = x.X
	case *ast.IndexListExpr:
		typ = x.X
	}
	id, _ := typ.(*ast.Ident)
	if id == nil {
		return fn.Name.Name
	}
	return "(" + star + id.Name + ")." + fn.Name.Name
}
