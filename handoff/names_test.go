package handoff

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/findings"
)

// The handoff asks findings what a finding is about and what shows it
// (findings.EvidenceOf); it names no finding, nor a family of them by its
// prefix ("signal."), in a string of its own.
func TestNoFindingNamesInHandoff(t *testing.T) {
	names := map[string]bool{}
	for _, d := range findings.All(findings.Config{}) {
		for _, n := range d.Produces() {
			names[n] = true
			if family, _, ok := strings.Cut(n, "."); ok {
				names[family+"."] = true
			}
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && names[s] {
				t.Errorf("%s: finding name %q", fset.Position(lit.Pos()), s)
			}
			return true
		})
	}
}
