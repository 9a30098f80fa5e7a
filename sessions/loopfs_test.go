//go:build linux

package sessions

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// TestStopsBeforeRealFilesystemFills records onto a real 16 MiB ext4
// filesystem with the real statfs check, and shows the Writer stops while
// the filesystem still has its floor free. Needs root (mount) and loop
// device support; skipped otherwise.
func TestStopsBeforeRealFilesystemFills(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to loop-mount a filesystem")
	}
	if testing.Short() {
		t.Skip("mounts a filesystem")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o700)
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	// -m 0: no root-reserved blocks, so "stopped before full" means it.
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4 failed: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount (no loop devices in this sandbox?): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})

	path := filepath.Join(mnt, "rec.stk")
	w, err := Create(path, testHeader(), WriterOptions{FlushEvery: -1}) // real statfs
	if err != nil {
		t.Fatal(err)
	}
	// Incompressible bodies so the file grows fast: ~64 KiB a flush.
	rng := rand.New(rand.NewSource(1))
	blob := make([]byte, 48<<10)
	var stopErr error
	for s := 0; stopErr == nil && s < 10000; s++ {
		rng.Read(blob)
		at := t0.Add(time.Duration(s) * time.Second)
		w.Write(rawEvent(at, "x", "noise", map[string]any{"time": at, "probe": "x", "kind": "noise", "blob": blob}))
		stopErr = w.Flush()
	}
	if !errors.Is(stopErr, ErrStopped) {
		t.Fatalf("writer never stopped: %v", stopErr)
	}
	w.Close()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	avail, size := st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize)
	reason, _ := w.Stopped()
	t.Logf("stopped at %d bytes: %s; %d of %d bytes still free", w.Size(), reason, avail, size)
	if avail < size/20-stopReserve || avail == 0 {
		t.Fatalf("only %d bytes left free of %d: the floor is %d", avail, size, size/20)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	evs, err := readAll(t, r, time.Time{})
	if err != nil || len(evs) < 10 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if f, ok := event.AsFinding(evs[len(evs)-1]); !ok || f.Finding != FindingRecordStopped {
		t.Fatalf("last event is not the stop finding: %+v", evs[len(evs)-1])
	}
}
