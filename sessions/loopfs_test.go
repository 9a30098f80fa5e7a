//go:build linux

package sessions

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
)

// TestPausesBeforeRealFilesystemFills records onto a real 16 MiB ext4
// filesystem with the real statfs check while another file takes most of
// it, and shows the Writer pauses while the filesystem still has its floor
// free, then resumes once that file is deleted. Needs root (mount) and
// loop device support; skipped otherwise.
func TestPausesBeforeRealFilesystemFills(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a filesystem")
	}
	mnt, _ := testenv.LoopFS(t, 16, 0)
	path := filepath.Join(mnt, "rec.stk")
	w, err := Create(path, testHeader(), WriterOptions{FlushEvery: -1}) // real statfs
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Something else takes all but ~2 MiB above the floor.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	avail, size := st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, avail-size/20-2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	// Incompressible bodies so the file grows fast: ~64 KiB a flush.
	rng := rand.New(rand.NewSource(1))
	blob := make([]byte, 48<<10)
	s := 0
	record := func(until func() bool) {
		t.Helper()
		for start := s; !until(); s++ {
			if s-start > 1000 {
				t.Fatal("recorded 1000 flushes without the state changing")
			}
			rng.Read(blob)
			at := t0.Add(time.Duration(s) * time.Second)
			w.Write(rawEvent(at, "x", "noise", map[string]any{"time": at, "probe": "x", "kind": "noise", "s": s, "blob": blob}))
			if err := w.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
		}
	}
	paused := func() bool { _, p := w.Paused(); return p }
	record(paused)
	pausedAt := s
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	avail = st.Bavail * uint64(st.Bsize)
	reason, _ := w.Paused()
	t.Logf("paused at %d bytes: %s; %d of %d bytes still free", w.Size(), reason, avail, size)
	if avail < size/20-stopReserve || avail == 0 {
		t.Fatalf("only %d bytes left free of %d: the floor is %d", avail, size, size/20)
	}
	record(func() bool { return s >= pausedAt+5 }) // dropped
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	record(func() bool { return !paused() })
	resumedAt := s
	record(func() bool { return s >= resumedAt+5 })
	states, noise := closeAndReadNoise(t, w, path)
	if strings.Join(states, ",") != "paused,resumed" {
		t.Fatalf("recording states %v", states)
	}
	// Every flush's event before the one that paused, none while paused
	// (the one that resumed was still dropped), and every one after.
	var want []int
	for n := range s {
		if n < pausedAt-1 || n >= resumedAt {
			want = append(want, n)
		}
	}
	if fmt.Sprint(noise) != fmt.Sprint(want) {
		t.Fatalf("noise events %v, want %v (paused at %d, resumed at %d)", noise, want, pausedAt, resumedAt)
	}
}

// TestPausesOnENOSPC: when the free-space check is fooled (another writer
// fills the disk between statfs and write; here FreeSpace always says
// there is room), the write itself fails with ENOSPC on a real full ext4.
// The Writer pauses instead of stopping, cuts the torn chunk, resumes once
// the free-space check shows the room the write lacked freed (not merely
// room, which it showed before the write failed), and the file reads back
// whole: every event before the failing flush, the resume notice, every
// event after.
func TestPausesOnENOSPC(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a filesystem")
	}
	mnt, _ := testenv.LoopFS(t, 16, 0)
	path := filepath.Join(mnt, "rec.stk")
	free := uint64(1 << 40)
	plenty := func(string) (uint64, uint64, error) { return free, 1 << 41, nil }
	w, err := Create(path, testHeader(), WriterOptions{FlushEvery: -1, FreeSpace: plenty})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, st.Bavail*uint64(st.Bsize)-1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(2))
	blob := make([]byte, 48<<10)
	s := 0
	flushOne := func() {
		t.Helper()
		rng.Read(blob)
		at := t0.Add(time.Duration(s) * time.Second)
		w.Write(rawEvent(at, "x", "noise", map[string]any{"time": at, "probe": "x", "kind": "noise", "s": s, "blob": blob}))
		if err := w.Flush(); err != nil {
			t.Fatalf("flush %d: %v", s, err)
		}
		s++
	}
	for {
		if s > 200 {
			t.Fatal("200 flushes of 64 KiB into 1 MiB of room without a pause")
		}
		flushOne()
		if _, p := w.Paused(); p {
			break
		}
	}
	failedAt := s - 1
	reason, _ := w.Paused()
	if !strings.Contains(reason, "no space left") {
		t.Fatalf("paused for %q, want the write's ENOSPC", reason)
	}
	if why, stopped := w.Stopped(); stopped {
		t.Fatalf("stopped (%s) instead of pausing", why)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The free-space check said there was room before the write failed:
	// saying so again is no evidence. It must see the failed chunk's size
	// freed (or a test write succeed, after a back-off: TestQuotaPauseDoesNotFlap).
	flushOne()
	if _, p := w.Paused(); !p {
		t.Fatal("resumed on a free-space check that had already been wrong")
	}
	free += 1 << 20
	flushOne() // finds room: resumes (this flush's event is still dropped)
	if _, p := w.Paused(); p {
		t.Fatal("still paused with the filler gone")
	}
	resumedAt := s
	for range 3 {
		flushOne()
	}
	states, noise := closeAndReadNoise(t, w, path)
	resumed := strings.Contains(strings.Join(states, ","), StateResumed)
	var want []int
	for n := range s {
		if n < failedAt || n >= resumedAt {
			want = append(want, n)
		}
	}
	if !resumed || fmt.Sprint(noise) != fmt.Sprint(want) {
		t.Fatalf("resumed %v, noise events %v, want %v (failed at %d, resumed at %d)", resumed, noise, want, failedAt, resumedAt)
	}
}

// closeAndReadNoise closes w, reads its file back (which must be whole) and
// returns the states of its recording events and the sequence numbers of
// its "noise" events, in file order.
func closeAndReadNoise(t *testing.T, w *Writer, path string) (states []string, noise []int) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Damage() != nil {
		t.Fatalf("damage: %v", r.Damage())
	}
	evs, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		switch b := ev.Body.(type) {
		case *event.Recording:
			states = append(states, b.State)
		case nil:
			var n struct{ S int }
			json.Unmarshal(ev.Raw, &n)
			noise = append(noise, n.S)
		}
	}
	return states, noise
}
