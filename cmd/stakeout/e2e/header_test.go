//go:build linux

package e2e

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// spliceHeader replaces the header JSON of the session file at path with
// hdr, padded with spaces to the old one's length so no offset moves, and
// a CRC made right (FORMAT.md: chunk header bytes 0-31, then the payload).
func spliceHeader(t *testing.T, path, hdr string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const pre, head = 12, 36
	n := int(binary.LittleEndian.Uint32(b[pre+8:]))
	if string(b[pre:pre+4]) != "STKC" || b[pre+4] != 'H' || n < len(hdr) {
		t.Fatalf("no room for the header: %d bytes, want %d", n, len(hdr))
	}
	copy(b[pre+head:], hdr+strings.Repeat(" ", n-len(hdr)))
	crc := crc32.Update(0, crc32.MakeTable(crc32.Castagnoli), b[pre:pre+32])
	crc = crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), b[pre+head:pre+head+n])
	binary.LittleEndian.PutUint32(b[pre+32:], crc)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAbsurdHeaderNumbers: report and handoff of a recording whose header
// has absurd numbers (cpus 1e30, memory 2^64-1, a negative interval, a
// boot in the year 9999, a start 150 years before its events) read the file
// (it was refused as not a session) and print none of them: the fields are
// unknown, the duration is the events'.
func TestAbsurdHeaderNumbers(t *testing.T) {
	share(t)
	path := filepath.Join(t.TempDir(), "absurd.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: strings.Repeat("h", 500), Started: xt(0)}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s <= 60; s++ {
		if err := w.Write(event.New(xt(float64(s)), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sda", WPerS: 3}}})); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	spliceHeader(t, path, `{"format_version":1,"hostname":"db-7","kernel":"6.18.0","boot_time":"9999-12-31T23:59:59Z",
"cpus":1e30,"memory_bytes":18446744073709551615,"command":["stakeout",1e400],"started":"1876-01-01T00:00:00Z","interval_ns":-5}`)

	r := run(t, nil, "report", path, "--format", "json")
	if r.code != 0 {
		t.Fatalf("report: %+v", r)
	}
	var doc struct {
		Host struct {
			CPUs        int64     `json:"cpus"`
			MemoryBytes uint64    `json:"memory_bytes"`
			BootTime    time.Time `json:"boot_time"`
			Interval    int64     `json:"interval_ns"`
			Hostname    string    `json:"hostname"`
		} `json:"host"`
		Started   time.Time `json:"started"`
		DurationS float64   `json:"duration_s"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	h := doc.Host
	if h.Hostname != "db-7" || h.CPUs != 0 || h.MemoryBytes != 0 || !h.BootTime.IsZero() || h.Interval != 0 {
		t.Errorf("host %+v: absurd numbers echoed", h)
	}
	if !doc.Started.Equal(xt(0)) || doc.DurationS != 60 {
		t.Errorf("started %v, %v s: want the events' minute", doc.Started, doc.DurationS)
	}
	for _, ext := range []string{"md", "html"} {
		out := filepath.Join(filepath.Dir(path), "handoff."+ext)
		if r := run(t, nil, "handoff", path, "-o", out); r.code != 0 {
			t.Fatalf("handoff -o %s: %+v", out, r)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, absurd := range []string{"9999", "1e+30", "18446744073709551615", "EiB", "1876"} {
			if strings.Contains(string(b), absurd) {
				t.Errorf("handoff.%s prints %q", ext, absurd)
			}
		}
	}
}
