package probes

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// On procfs the file stays open and each read is the file as it is now.
func TestProcFileKeepsProcOpenAndRereads(t *testing.T) {
	f := newProcFile("/proc/uptime")
	defer f.close()
	a, err := f.read()
	if err != nil {
		t.Skipf("no /proc/uptime: %v", err)
	}
	first := string(a)
	if f.fd < 0 {
		t.Fatal("a procfs file was not kept open")
	}
	fd := f.fd
	var b []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err = f.read(); err != nil || string(b) != first {
			break
		}
	}
	if err != nil || string(b) == first {
		t.Fatalf("re-read gave %q, %v; first %q", b, err, first)
	}
	if f.fd != fd {
		t.Errorf("re-read opened the file again (fd %d, then %d)", fd, f.fd)
	}
	if want, _ := os.ReadFile("/proc/self/limits"); len(want) > 0 {
		g := newProcFile("/proc/self/limits")
		defer g.close()
		if got, err := g.read(); err != nil || !bytes.Equal(got, want) {
			t.Errorf("/proc/self/limits read as %q, %v; want %q", got, err, want)
		}
	}
}

// Anywhere else (fixture trees) it opens the file each time, so a file
// replaced by rename or removed is seen; a file larger than the first
// buffer is read whole.
func TestProcFileFixtureReopensAndGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "diskstats")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	f := newProcFile(path)
	defer f.close()
	if b, err := f.read(); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("read %d bytes, %v; want %d", len(b), err, len(big))
	}
	if f.fd >= 0 {
		t.Error("a regular file outside procfs was kept open")
	}
	os.WriteFile(path+".new", []byte("new\n"), 0o644)
	os.Rename(path+".new", path)
	if b, err := f.read(); err != nil || string(b) != "new\n" {
		t.Errorf("after rename: %q, %v", b, err)
	}
	os.Remove(path)
	if _, err := f.read(); !os.IsNotExist(err) {
		t.Errorf("after remove: %v, want not-exist", err)
	}
}
