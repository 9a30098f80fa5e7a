package probes

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// readDirNames lists what os.ReadDir lists, across several getdents
// calls, and stops at its limit.
func TestReadDirNames(t *testing.T) {
	dir := t.TempDir()
	for i := range 600 { // about 20 KB of dirents: several 4 KiB getdents
		if err := os.WriteFile(filepath.Join(dir, "file-"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range ents {
		want = append(want, e.Name())
	}
	var buf [4096]byte
	got, err := readDirNames(dir, -1, buf[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("got %d names, want %d", len(got), len(want))
	}
	if got, _ := readDirNames(dir, 250, buf[:], nil); len(got) != 250 {
		t.Errorf("limit 250 gave %d names", len(got))
	}
	if _, err := readDirNames(filepath.Join(dir, "none"), -1, buf[:], nil); !os.IsNotExist(err) {
		t.Errorf("missing directory: %v", err)
	}
	fds, err := readDirNames("/proc/self/fd", -1, buf[:], nil)
	if err != nil || len(fds) < 3 {
		t.Errorf("/proc/self/fd: %v, %v", fds, err)
	}
}
