package testenv

import (
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestOnlyTestsImportTestenv: no package of the module imports testenv
// from a non-test file, so "testing" never links into stakeout.
func TestOnlyTestsImportTestenv(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	const me = "github.com/stakeout/stakeout/internal/testenv"
	seen := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if n := d.Name(); p != root && (n == "testdata" || strings.HasPrefix(n, ".")) {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(p, 0)
		if err != nil {
			return nil // no Go files for this GOOS here
		}
		seen++
		for _, imp := range pkg.Imports {
			if imp == me {
				t.Errorf("%s imports testenv from a non-test file", pkg.ImportPath)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 10 {
		t.Fatalf("walked only %d packages from %s", seen, root)
	}
}

// fatalTB records a Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, time.Minute, "the third poll", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond polled %d times, want 3", n)
	}
	f := &fatalTB{TB: t}
	Eventually(f, 20*time.Millisecond, "never", func() bool { return false })
	if f.msg != "timed out after 20ms waiting until never" {
		t.Errorf("failure message %q", f.msg)
	}
}

func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a", "b"), 0o700)
	os.WriteFile(filepath.Join(src, "a", "b", "f"), []byte("x"), 0o400)
	dst := CopyTree(t, src)
	b, err := os.ReadFile(filepath.Join(dst, "a", "b", "f"))
	if err != nil || string(b) != "x" {
		t.Fatalf("copied file: %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dst, "a", "b", "f"), []byte("y"), 0); err != nil {
		t.Errorf("copy is not writable: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(src, "a", "b", "f")); string(b) != "x" {
		t.Errorf("source changed to %q", b)
	}
}
