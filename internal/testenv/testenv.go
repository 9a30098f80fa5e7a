// Package testenv is what the tests of several packages need from the host:
// root, a loop-mounted filesystem of their own, a copy of a fixture tree,
// and a bounded wait for a condition. Only _test.go files may import it
// (TestOnlyTestsImportTestenv checks that): it imports "testing".
package testenv

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NeedRoot skips the test unless it runs as root, saying "needs root: "
// and why.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// Eventually polls cond every 5 ms for up to within, and fails the test,
// naming what it waited for, if cond never held.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %v waiting until %s", within, what)
}

// CopyTree copies the fixture tree src into a fresh temp dir (directories
// 0755, files 0644) and returns that dir, so a test may change files in it.
func CopyTree(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// LoopFS makes a new ext4 filesystem of mib MiB in the test's temp dir,
// with reservedPercent of its blocks reserved for root (0: "full" means
// full; 5 is mkfs.ext4's default), loop-mounts it and returns its mount
// point and the loop device's name (loopN). It is unmounted when the test
// ends (lazily if something still holds it), which also frees the loop
// device. It skips, saying why, where this host can't do it.
func LoopFS(t testing.TB, mib int64, reservedPercent int) (mnt, dev string) {
	t.Helper()
	NeedRoot(t, "to loop-mount a filesystem")
	for _, tool := range []string{"mkfs.ext4", "mount", "umount", "findmnt"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make test installs e2fsprogs and util-linux)", tool)
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "fs.img")
	mnt = filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, mib<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", strconv.Itoa(reservedPercent), img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("this host can't loop-mount (no loop devices in this sandbox?): %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		out, err := exec.Command("umount", mnt).CombinedOutput()
		if err == nil {
			return
		}
		t.Logf("umount %s: %v: %s; unmounting lazily", mnt, err, strings.TrimSpace(string(out)))
		if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount -l %s: %v: %s", mnt, err, out)
		}
	})
	src, err := exec.Command("findmnt", "-n", "-o", "SOURCE", mnt).Output()
	if err != nil {
		t.Fatal(err)
	}
	return mnt, filepath.Base(strings.TrimSpace(string(src)))
}
