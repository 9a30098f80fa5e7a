package sessions

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
)

// ioSample stands in for a probe's body: what an iostat probe on a quiet
// host emits once a second.
type ioSample struct {
	Devices []ioDevice `json:"devices"`
}

type ioDevice struct {
	Device       string  `json:"device"`
	ReadsPerS    float64 `json:"reads_per_s"`
	WritesPerS   float64 `json:"writes_per_s"`
	ReadBytesPS  int     `json:"read_bytes_per_s"`
	WriteBytesPS int     `json:"write_bytes_per_s"`
	UtilPct      float64 `json:"util_pct"`
	AwaitMs      float64 `json:"await_ms"`
}

const testKind = "sessions_test_io"

func (ioSample) EventKind() string { return testKind }

func init() { event.Register(testKind, func() event.Body { return &ioSample{} }) }

var t0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

func testHeader() Header {
	return Header{
		Hostname: "db-7", Kernel: "6.18.44", BootTime: t0.Add(-48 * time.Hour), CPUs: 8,
		MemoryBytes: 16 << 30, StakeoutVersion: "0.1.0-test", Command: []string{"stakeout", "record", "--for", "1h"},
		Started: t0, Interval: time.Second,
	}
}

func round1(x float64) float64 { return float64(int(x*10)) / 10 }

// quietSecond is one second of a quiet host: an io sample with two devices
// and two ~150-byte events of kinds this build does not know (as a newer
// stakeout would write them), all with realistic, varying numbers.
func quietSecond(rng *rand.Rand, t time.Time) []event.Event {
	io := event.New(t, "iostat", &ioSample{Devices: []ioDevice{
		{"nvme0n1", round1(rng.Float64() * 5), round1(rng.Float64() * 20), rng.Intn(40000), rng.Intn(200000), round1(rng.Float64() * 3), round1(rng.Float64())},
		{"sda", 0, round1(rng.Float64() * 2), 0, rng.Intn(8000), round1(rng.Float64()), round1(rng.Float64() * 4)},
	}})
	ts := t.Format(time.RFC3339Nano)
	cpu := rawEvent(t, "cpu", "cpu_future", map[string]any{"time": ts, "probe": "cpu", "kind": "cpu_future",
		"user_pct": round1(rng.Float64() * 5), "system_pct": round1(rng.Float64() * 2), "iowait_pct": round1(rng.Float64()),
		"load1": round1(0.3 + rng.Float64()*0.2), "runnable": rng.Intn(3)})
	mem := rawEvent(t, "mem", "mem_future", map[string]any{"time": ts, "probe": "mem", "kind": "mem_future",
		"available_bytes": 12000000000 + rng.Intn(10000000), "dirty_bytes": rng.Intn(2000000), "psi_some_avg10": round1(rng.Float64() * 0.5)})
	return []event.Event{io, cpu, mem}
}

// rawEvent builds an event the way a reader sees an unknown kind: Body nil,
// Raw holding the flat JSON.
func rawEvent(t time.Time, probe, kind string, fields map[string]any) event.Event {
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return event.Event{Time: t, Probe: probe, Kind: kind, Raw: b}
}

// recordSeconds writes n seconds of quiet-host events starting at start,
// flushing once per simulated second as the live flusher would.
func recordSeconds(t testing.TB, w *Writer, start time.Time, n int, seed int64) []event.Event {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	var all []event.Event
	for s := 0; s < n; s++ {
		for _, ev := range quietSecond(rng, start.Add(time.Duration(s)*time.Second+time.Duration(rng.Intn(1e6)))) {
			if err := w.Write(ev); err != nil {
				t.Fatal(err)
			}
			all = append(all, ev)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

// manual is the writer setting for deterministic tests: no flusher
// goroutine, no real statfs.
func manual() WriterOptions {
	return WriterOptions{FlushEvery: -1, FreeSpace: func(string) (uint64, uint64, error) { return 1 << 40, 1 << 41, nil }}
}

func writeSession(t testing.TB, dir string, seconds int) (string, []event.Event) {
	t.Helper()
	path := filepath.Join(dir, "s.stk")
	w, err := Create(path, testHeader(), manual())
	if err != nil {
		t.Fatal(err)
	}
	evs := recordSeconds(t, w, t0, seconds, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, evs
}

func readAll(t testing.TB, r *Reader, from time.Time) ([]event.Event, error) {
	t.Helper()
	it := r.Iter(from)
	var out []event.Event
	for {
		ev, ok := it.Next()
		if !ok {
			return out, it.Err()
		}
		out = append(out, ev)
	}
}

func openBytes(b []byte) (*Reader, error) {
	return newReader(bytes.NewReader(b), int64(len(b)), "mem.stk")
}

func jsonOf(t testing.TB, ev event.Event) string {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// samePrefix checks that got is exactly the first len(got) events of want.
func samePrefix(t testing.TB, got, want []event.Event) {
	t.Helper()
	if len(got) > len(want) {
		t.Fatalf("got %d events, only %d written", len(got), len(want))
	}
	for i := range got {
		if g, w := jsonOf(t, got[i]), jsonOf(t, want[i]); g != w {
			t.Fatalf("event %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func asDamage(err error) *Damage {
	var d *Damage
	if errors.As(err, &d) {
		return d
	}
	return nil
}
