package layering

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyPackagePtraceCallsPtrace: a ptrace request from any thread but
// the tracer's fails (or, for a seize, makes that thread the tracer), so
// the requests are methods of probes/ptrace's Thread, which only the
// tracing thread is handed. This keeps every other file, tests included,
// off the raw calls: x/sys's and syscall's Ptrace* functions and the
// SYS_PTRACE system call number.
func TestOnlyPackagePtraceCallsPtrace(t *testing.T) {
	root := filepath.Join("..", "..")
	allowed := filepath.Join(root, "probes", "ptrace")
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "vendor", ".git":
				return filepath.SkipDir
			}
			if path == allowed {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		files++
		for _, use := range rawPtraceUses(t, path) {
			t.Errorf("%s: only package probes/ptrace makes ptrace requests (on its tracing thread)", use)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d Go files under %s: not the module's root?", files, root)
	}
}

// rawPtraceUses lists the selectors in one file that reach ptrace(2)
// directly.
func rawPtraceUses(t *testing.T, path string) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	sys := map[string]bool{} // local names of syscall and x/sys/unix
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if p != "syscall" && p != "golang.org/x/sys/unix" {
			continue
		}
		name := filepath.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		sys[name] = true
	}
	var uses []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && sys[x.Name] &&
			(strings.HasPrefix(sel.Sel.Name, "Ptrace") || sel.Sel.Name == "SYS_PTRACE") {
			uses = append(uses, fset.Position(sel.Pos()).String()+" "+x.Name+"."+sel.Sel.Name)
		}
		return true
	})
	return uses
}
