package sessions

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHostFactsFromFixtureTree(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"proc/sys/kernel/hostname":      "db-7\n",
		"proc/sys/kernel/osrelease":     "6.18.44-fc\n",
		"proc/stat":                     "cpu  1 2 3\nintr 5\nbtime 1795000000\nprocesses 9\n",
		"proc/meminfo":                  "MemTotal:       16318912 kB\nMemFree: 1 kB\n",
		"sys/devices/system/cpu/online": "0-3,6,8-9\n",
	}
	for p, body := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := hostFacts(filepath.Join(root, "proc"), filepath.Join(root, "sys"))
	if h.Hostname != "db-7" || h.Kernel != "6.18.44-fc" || h.CPUs != 7 || h.MemoryBytes != 16318912*1024 ||
		!h.BootTime.Equal(time.Unix(1795000000, 0)) || h.FormatVersion != FormatMajor {
		t.Fatalf("%+v", h)
	}
}

func TestParseCPUListRejectsNonsense(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-63": 64, "": 0, "3-1": 0, "a-b": 0} {
		if got := parseCPUList(in); got != want {
			t.Errorf("parseCPUList(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestHostHeaderLive(t *testing.T) {
	h := HostHeader("1.2.3", []string{"stakeout", "record"}, 2*time.Second)
	if h.StakeoutVersion != "1.2.3" || strings.Join(h.Command, " ") != "stakeout record" || h.Interval != 2*time.Second {
		t.Fatalf("%+v", h)
	}
	if h.Hostname == "" || h.CPUs < 1 || time.Since(h.Started) > time.Minute {
		t.Fatalf("live facts missing: %+v", h)
	}
	if _, err := os.Stat("/proc/meminfo"); err == nil && (h.MemoryBytes == 0 || h.Kernel == "" || h.BootTime.IsZero()) {
		t.Fatalf("live /proc facts missing: %+v", h)
	}
}

// hostileHeader is a header JSON with every number and time out of bounds
// or of the wrong type, and some fields that are fine.
const hostileHeader = `{"format_version":1e300,"hostname":7,"kernel":"6.18.0","boot_time":"9999-12-31T23:59:59Z",
"cpus":1e30,"memory_bytes":18446744073709551615,"stakeout_version":"0.1.0","command":["stakeout",1,"record"],
"started":"2026-11-23T04:00:00Z","interval_ns":-5,
"extract":{"source":"web-3.stk","source_started":"0001-01-01T00:00:00Z","since":"yesterday","until":"2026-11-23T04:01:00Z","from":false},
"detectors":{"signal_burst_window_ns":1000000000}}`

// withHeader returns the session file b with its header JSON replaced by
// hdr, padded with spaces to the old one's length so no offset moves.
func withHeader(t *testing.T, b []byte, hdr string) []byte {
	t.Helper()
	h, err := parseChunkHead(b[preambleSize:])
	if err != nil || h.Type != chunkHeader || int(h.Len) < len(hdr) {
		t.Fatalf("header chunk %+v, %v: room for %d bytes, want %d", h, err, h.Len, len(hdr))
	}
	payload := []byte(hdr + strings.Repeat(" ", int(h.Len)-len(hdr)))
	out := append([]byte(nil), b[:preambleSize]...)
	out = appendChunk(out, chunkHeader, 0, 0, 0, payload)
	return append(out, b[preambleSize+chunkHeaderSize+int(h.Len):]...)
}

// TestHeaderNumbersBounded: a header whose numbers and times are absurd or
// of the wrong type (cpus 1e30, memory 2^64-1, a negative interval, a boot
// in the year 9999, a hostname that is a number) no longer makes the whole
// file unreadable ("header is not valid JSON"): each such field reads as
// unknown (zero), the rest of the header as written, and every event is
// read.
func TestHeaderNumbersBounded(t *testing.T) {
	hdr := testHeader()
	hdr.Hostname = strings.Repeat("h", 600) // room for the hostile JSON
	path := filepath.Join(t.TempDir(), "h.stk")
	w, err := Create(path, hdr, manual())
	if err != nil {
		t.Fatal(err)
	}
	want := recordSeconds(t, w, t0, 5, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := withHeader(t, mustRead(t, path), hostileHeader)
	r, err := openBytes(b)
	if err != nil {
		t.Fatalf("a header with absurd numbers: %v", err)
	}
	got := r.Header()
	wantHdr := Header{Kernel: "6.18.0", StakeoutVersion: "0.1.0", Command: []string{"stakeout", "", "record"},
		Started: t0, Extract: &ExtractInfo{Source: "web-3.stk", Until: t0.Add(time.Minute)},
		Detectors: []byte(`{"signal_burst_window_ns":1000000000}`)}
	if !reflect.DeepEqual(got, wantHdr) {
		t.Fatalf("read %+v (extract %+v)\nwant %+v (extract %+v)", got, got.Extract, wantHdr, wantHdr.Extract)
	}
	evs, err := readAll(t, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, evs, want)

	var back Header
	// Each bound, at its edge and past it; good values read as written.
	for _, c := range []struct {
		json string
		want Header
	}{
		{`{"cpus":65536,"memory_bytes":1152921504606846976,"interval_ns":86400000000000,"format_version":1}`,
			Header{CPUs: 65536, MemoryBytes: 1 << 60, Interval: 24 * time.Hour, FormatVersion: 1}},
		{`{"cpus":65537,"memory_bytes":1152921504606846977,"interval_ns":86400000000001,"format_version":65536}`, Header{}},
		{`{"cpus":8.0,"memory_bytes":1.7179869184e10,"interval_ns":1e9}`, Header{CPUs: 8, MemoryBytes: 16 << 30, Interval: time.Second}},
		{`{"cpus":2.5,"memory_bytes":-1,"interval_ns":true,"boot_time":"1969-12-31T23:59:59Z","started":"2200-01-01T00:00:01Z"}`, Header{}},
		{`{"boot_time":"1970-01-01T00:00:00Z","started":"2200-01-01T00:00:00Z","extract":null,"detectors":null}`,
			Header{BootTime: time.Unix(0, 0).UTC(), Started: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		var h Header
		if err := json.Unmarshal([]byte(c.json), &h); err != nil || !reflect.DeepEqual(h, c.want) {
			t.Errorf("%s: read %+v, %v; want %+v", c.json, h, err, c.want)
		}
	}
	if err := json.Unmarshal([]byte(`null`), &back); err != nil || !reflect.DeepEqual(back, Header{}) {
		t.Errorf("a null header: %+v, %v", back, err)
	}
	for _, bad := range []string{`[]`, `"x"`, `{`, `7`} {
		var h Header
		if err := json.Unmarshal([]byte(bad), &h); err == nil {
			t.Errorf("%s read as a header", bad)
		}
	}
	// A header written by the Writer reads back as it was.
	full := testHeader()
	full.Extract = &ExtractInfo{Source: "a.stk", SourceStarted: t0, Since: t0, Until: t0.Add(time.Hour), From: t0.Add(-time.Minute)}
	full.Detectors = []byte(`{"x":1}`)
	if j, err := json.Marshal(full); err != nil || json.Unmarshal(j, &back) != nil || !reflect.DeepEqual(back, full) {
		t.Errorf("round trip: %+v, want %+v", back, full)
	}
}
