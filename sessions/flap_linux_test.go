package sessions

import (
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

// TestNoFlappingNearTheFloor: a flood of large events (each flush a chunk of
// about 1 MiB, bigger than half the floor) records onto a real 32 MiB ext4
// whose free space sits just above where the old rule resumed (the floor and
// half of it again) while another writer makes it wobble by 256 KiB. The
// recording pauses once and stays paused: it never resumes only to pause
// again at the next chunk. Once the space is genuinely freed it resumes
// once, records until the floor again and pauses a second time, for good.
func TestNoFlappingNearTheFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a filesystem")
	}
	mnt, _ := testenv.LoopFS(t, 32, 0)
	path := filepath.Join(mnt, "rec.stk")
	w, err := Create(path, testHeader(), WriterOptions{FlushEvery: -1}) // real statfs
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	statfs := func() (avail, size uint64) {
		t.Helper()
		var st syscall.Statfs_t
		if err := syscall.Statfs(mnt, &st); err != nil {
			t.Fatal(err)
		}
		return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize)
	}
	avail, size := statfs()
	floor := min(size/20, freeFloorCap)
	// Just above the old resume level: the old rule resumed here, and a
	// 1 MiB chunk never fits here.
	leave := floor + floor/2 + uint64(w.tailReserve()) + 128<<10
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, avail-leave), 0o600); err != nil {
		t.Fatal(err)
	}
	wobble := filepath.Join(mnt, "wobble")

	rng := rand.New(rand.NewSource(3))
	blob := make([]byte, 720<<10) // about 960 KiB of JSON: each Write flushes
	s, pauses, resumes := 0, 0, 0
	wasPaused := false
	flood := func(n int, wobbling bool) {
		t.Helper()
		for range n {
			rng.Read(blob)
			at := t0.Add(time.Duration(s) * 100 * time.Millisecond)
			if err := w.Write(rawEvent(at, "x", "noise", map[string]any{"time": at, "probe": "x", "kind": "noise", "s": s, "blob": blob})); err != nil {
				t.Fatalf("Write %d: %v", s, err)
			}
			if err := w.Flush(); err != nil {
				t.Fatalf("Flush %d: %v", s, err)
			}
			s++
			_, p := w.Paused()
			if p && !wasPaused {
				pauses++
			} else if !p && wasPaused {
				resumes++
			}
			wasPaused = p
			if wobbling {
				if s%2 == 1 {
					os.WriteFile(wobble, make([]byte, 256<<10), 0o600)
				} else {
					os.Remove(wobble)
				}
			}
		}
	}
	flood(60, true)
	os.Remove(wobble)
	a, _ := statfs()
	t.Logf("floor %d of %d bytes; after 60 flushes: %d pauses, %d resumes, %d bytes free", floor, size, pauses, resumes, a)
	if pauses != 1 || resumes != 0 || !wasPaused {
		t.Fatalf("%d pauses and %d resumes in 60 flushes with the space unchanged (paused now: %v), want 1 pause and no resume",
			pauses, resumes, wasPaused)
	}

	// The space really frees: recording resumes, fills the filesystem to
	// the floor again and pauses there, once.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	flood(80, false)
	a, _ = statfs()
	t.Logf("after the filler went and 80 more flushes: %d pauses, %d resumes, %d bytes free", pauses, resumes, a)
	if pauses != 2 || resumes != 1 || !wasPaused {
		t.Fatalf("%d pauses and %d resumes, paused now %v: want a second pause at the floor and no more", pauses, resumes, wasPaused)
	}
	if a < floor {
		t.Fatalf("%d bytes free, below the %d byte floor", a, floor)
	}

	states, _ := closeAndReadNoise(t, w, path)
	if strings.Join(states, ",") != "paused,resumed,paused" {
		t.Fatalf("recording states %v", states)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	evs, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if f, ok := event.As[event.Finding](ev); ok && f.Finding == FindingRecordPaused {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d record.paused findings in the file, want 2", n)
	}
}
