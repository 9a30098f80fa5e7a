package probes

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is issue 13's limit on a function of the collectors, from
// its func keyword to its closing brace (doc comment not counted).
const maxFuncLines = 80

// TestNoCollectorFunctionOver80Lines keeps the collectors' functions
// short enough to read as named steps: every non-test function in probes
// and its subpackages, on every system.
func TestNoCollectorFunctionOver80Lines(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	sub, _ := filepath.Glob("*/*.go")
	files = append(files, sub...)
	checked := 0
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") || strings.Contains(path, "testdata") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
			if n := end.Line - start.Line + 1; n > maxFuncLines {
				t.Errorf("%s:%d: %s is %d lines, over %d: split it into named steps", path, start.Line, fd.Name.Name, n, maxFuncLines)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d files: not run in probes/?", checked)
	}
}
