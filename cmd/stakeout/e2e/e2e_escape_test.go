//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout/stakeout/internal/hostile"
)

// TestHostileFileThroughTextOutputs: a recording whose every string is an
// escape-sequence attack goes through each command that prints text. Not
// one control, C1 or bidi character, nor any escape sequence, may reach
// stdout; the hostile strings show escaped instead.
func TestHostileFileThroughTextOutputs(t *testing.T) {
	share(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "hostile.stk")
	if err := hostile.Write(file); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"report", file},
		{"report", file, "--format", "md"},
		{"handoff", file},
	} {
		r := run(t, nil, args...)
		name := strings.Join(args[:len(args)-1], " ")
		if args[0] == "report" && len(args) > 2 {
			name = "report --format md"
		}
		if r.code != 0 {
			t.Errorf("%s: exit %d: %s", name, r.code, r.stderr)
			continue
		}
		if raw := hostile.Raw(r.stdout); raw != "" {
			t.Errorf("%s: %s reached stdout:\n%s", name, raw, r.stdout)
		}
		if raw := hostile.Raw(r.stderr); raw != "" {
			t.Errorf("%s: %s reached stderr:\n%s", name, raw, r.stderr)
		}
		if n := strings.Count(r.stdout, hostile.Escaped); n < 3 {
			t.Errorf("%s: the hostile strings show escaped %d times, want the host, findings and more:\n%s", name, n, r.stdout)
		}
	}
	// JSON escapes C0 controls itself; C1 and bidi controls are valid in a
	// JSON string, but must not reach a terminal raw either.
	for _, args := range [][]string{{"events", file}, {"report", file, "--format", "json"}} {
		r := run(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", args[0], r.code, r.stderr)
		}
		if raw := hostile.Raw(r.stdout); raw != "" {
			t.Errorf("%s json: %s reached stdout", args[0], raw)
		}
		if !strings.Contains(r.stdout, `\u009b31m\u202eevil`) {
			t.Errorf("%s json: the C1 and bidi controls are not escaped:\n%s", args[0], r.stdout)
		}
	}
	html := filepath.Join(dir, "h.html")
	if r := run(t, nil, "handoff", file, "-o", html); r.code != 0 {
		t.Fatalf("handoff -o: exit %d: %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	// The page is for a browser, but `cat` and `less -R` show it too.
	if raw := hostile.Raw(string(b)); raw != "" {
		t.Errorf("handoff html: %s", raw)
	}
}
