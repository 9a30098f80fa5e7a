package sessions

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// FuzzReader feeds arbitrary bytes to the reader: it must never panic or
// allocate without bound, whatever a handed-off file contains. The seeds
// (a real recording, cut and bent) run in every `go test`.
func FuzzReader(f *testing.F) {
	// Small seeds keep the fuzzer fast: a few events spread over two
	// segments, an unknown kind among them.
	path := filepath.Join(f.TempDir(), "seed.stk")
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []int{0, 1, 30, 61, 62} {
		at := t0.Add(time.Duration(s) * time.Second)
		w.Write(event.New(at, "iostat", &ioSample{Devices: []ioDevice{{Device: "sda", ReadBytesPS: s}}}))
		w.Write(rawEvent(at, "x", "future", map[string]any{"time": at, "probe": "x", "kind": "future", "v": s}))
		w.Flush()
	}
	w.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	full, _ := openBytes(good)
	f.Add(good)
	f.Add(good[:full.dataEnd])      // crashed: no index
	f.Add(good[:full.dataEnd-7])    // torn last chunk
	f.Add(good[:full.dataStart+40]) // one chunk header and a bit
	f.Add(good[:preambleSize])      // signature only
	f.Add([]byte{})
	bent := append([]byte(nil), good...)
	bent[len(bent)/2] ^= 0xff
	f.Add(bent)

	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := openBytes(b)
		if err != nil {
			return
		}
		_ = r.Header()
		if d := r.Damage(); d != nil {
			_ = d.Error()
		}
		it := r.Iter(time.Time{})
		for {
			if _, ok := it.Next(); !ok {
				break
			}
		}
		_ = it.Err()
		mid := r.Start().Add(r.End().Sub(r.Start()) / 2)
		r.Iter(mid).Next()
		p := NewPlayer(r, time.Minute, nil)
		p.Seek(mid)
		p.SetSpeed(64)
		p.Tick(time.Hour)
	})
}
