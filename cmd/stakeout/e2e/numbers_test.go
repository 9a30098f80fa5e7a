//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// writeWildNumbers records, through the real writer, twenty seconds of a
// host whose every number is v: each float field of every probe's events,
// with the sign flipping every third sample, beside integer fields at their
// extremes (2^64-1, ±2^63) and inputs that make NaN of careless
// arithmetic (a zero interval, a zero max, a rate and its negation). A
// finding no detector recomputes carries v in its data, and the kernel log
// an OOM kill of 20 digits of kB.
func writeWildNumbers(t *testing.T, path string, v float64) {
	t.Helper()
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	w, err := sessions.Create(path, sessions.Header{Hostname: "wild", Kernel: "6.18.0", Started: t0, Interval: time.Second,
		MemoryBytes: math.MaxInt64, CPUs: math.MaxInt32}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for _, p := range []string{"iostat", "diskfill", "conntrack", "packets", "kmsg", "modules", "coredump", "signals"} {
		evs = append(evs, event.New(t0, p, &event.ProbeStatus{Status: event.StatusOK}))
	}
	evs = append(evs, event.New(t0, "packets", &packet.FlowInfo{ID: 1, Iface: "eth0", Proto: "tcp", Src: "10.0.0.1:1", Dst: "10.0.0.2:2"}))
	for s := range 20 {
		at := t0.Add(time.Duration(s) * time.Second)
		x, zero := v, 0.0
		if s%3 == 2 {
			x = -v
		}
		eta, paused := x, v
		ioDev := func(name string, f float64) schema.DeviceIO {
			return schema.DeviceIO{Device: name, RPerS: f, WPerS: -f, RKBPerS: f, WKBPerS: f, RAwaitMs: f, WAwaitMs: f,
				AquSz: f, UtilPct: f, InFlight: math.MaxUint64, Stalled: s%2 == 0}
		}
		iv := x
		if s%5 == 4 {
			iv = zero
		}
		evs = append(evs,
			event.New(at, "iostat", &schema.IOSample{IntervalS: iv, Devices: []schema.DeviceIO{ioDev("sda", x), ioDev("sdb", v), ioDev("sdc", zero)}}),
			event.New(at, "diskfill", &schema.DiskUsage{IntervalS: iv, Filesystems: []schema.Filesystem{{
				Mount: "/", Device: "/dev/sda1", FSType: "ext4", SizeBytes: math.MaxUint64, UsedBytes: math.MaxUint64 - 5,
				AvailBytes: 100, FreeBytes: math.MaxUint64, InodesTotal: math.MaxUint64, InodesUsed: math.MaxUint64, InodesFree: 1,
				Bytes:   schema.Trend{RatePerS: x, EtaS: &eta, WindowS: x},
				Inodes:  schema.Trend{RatePerS: v, EtaS: &eta, WindowS: v},
				Writers: []schema.DiskWriter{{PID: 1, Comm: "w", WriteBytesPerS: x, Files: []schema.GrowingFD{{Path: "/f", SizeBytes: math.MinInt64, GrowthBytesPerS: x}}}},
				DeletedOpen: []schema.DeletedOpen{{PID: 1, Comm: "w", Path: "/d", SizeBytes: math.MaxInt64},
					{PID: 2, Comm: "w", Path: "/e", SizeBytes: math.MaxInt64}, {PID: 3, Comm: "w", Path: "/g", SizeBytes: math.MaxInt64}},
			}, {Mount: "/empty", Device: "tmpfs", FSType: "tmpfs"}}}),
			event.New(at, "conntrack", &schema.ConntrackSample{Count: math.MaxUint64 - uint64(s), Max: uint64(s % 2), IntervalS: iv,
				Drop: math.MaxUint64, EarlyDrop: math.MaxUint64, InsertFailed: math.MaxUint64}),
			event.New(at, "packets", &packet.CaptureStats{Iface: "eth0", IntervalS: iv, Packets: math.MaxUint64, Drops: math.MaxUint64,
				Freezes: math.MaxUint64, Seen: math.MaxUint64, Bytes: math.MaxUint64, TotalPackets: math.MaxUint64, TotalDrops: math.MaxUint64}),
			event.New(at, "packets", &packet.PacketBatch{Iface: "eth0", Start: at, DtUs: []int64{0, math.MaxInt64, math.MinInt64, math.MaxInt64},
				Flow: []uint32{1, 1, 1, 1}, Flags: packet.ByteNums{0, 4, 0, 4}, Len: []uint32{math.MaxUint32, 1, math.MaxUint32, 1}}),
			event.New(at, "kmsg", &schema.Kmsg{Level: "err", Priority: 3, Facility: "kern", Seq: math.MaxUint64, KernelUS: math.MaxUint64,
				Lost: math.MaxUint64, Text: "Out of memory: Killed process 4242 (java) total-vm:99999999999999999999kB, " +
					"anon-rss:99999999999999999999kB, file-rss:99999999999999999998kB, shmem-rss:9223372036854775807kB, UID:0 pgtables:1kB oom_score_adj:0"}),
			event.New(at, "modules", &schema.ModuleLoad{Module: schema.Module{Module: "nf_conntrack", Size: math.MaxUint64}}),
			event.New(at, "coredump", &schema.CoreReadiness{CorePattern: "core", CorePipeLimit: math.MinInt64, Processes: math.MaxInt64,
				ZeroLimit: math.MinInt64, NoCore: []schema.CoreLimit{{PID: 1, Comm: "c", Soft: math.MinInt64, Hard: math.MaxInt64}}}),
			event.New(at, "recorder", &event.Recording{State: "resumed", PausedS: &paused}),
			event.New(at, "wild", &event.Finding{Finding: "wild.number", Severity: event.Warn, Summary: "a finding no detector recomputes",
				Data: map[string]any{"x": x, "n": uint64(math.MaxUint64), "list": []float64{v, -v}}}),
		)
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatalf("%s: %v", ev.Kind, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// absurd names the first sign in out of a number gone wrong: NaN, an
// infinity, a float→int conversion that wrapped (-2^63), a uint64 sum that
// wrapped past 2^64 or came near it, or a time JSON cannot hold.
func absurd(out string) string {
	for _, bad := range []string{"NaN", "Inf", "-9223372036854775808", "18446744073709551", "year outside"} {
		if i := strings.Index(out, bad); i >= 0 {
			return out[max(0, i-100):min(len(out), i+60)]
		}
	}
	return ""
}

// TestWildNumbersThroughEveryReader: recordings whose numbers are 1.7e308,
// 1e20 or -1e20 (with integers at their extremes) go through every reader.
// Each exits 0 with nothing on stderr, its JSON parses, and no output
// holds NaN, Inf or a number that wrapped. Before the fix `report --format
// json` failed with "json: unsupported value: +Inf", `events` stopped
// part-way on a NaN, and the text report said "filling at
// -9223372036854775808 B/s".
func TestWildNumbersThroughEveryReader(t *testing.T) {
	share(t)
	for _, v := range []float64{1.7e308, 1e20, -1e20} {
		dir := t.TempDir()
		file := filepath.Join(dir, "wild.stk")
		writeWildNumbers(t, file, v)
		extract := filepath.Join(dir, "window.stk")
		html := filepath.Join(dir, "handoff.html")
		for _, args := range [][]string{
			{"events", file},
			{"report", file, "--format", "json"},
			{"report", file, "--format", "text"},
			{"report", file, "--format", "md"},
			{"handoff", file},
			{"handoff", file, "-o", html},
			{"extract", file, "--since", "+5s", "-o", extract},
			{"events", extract},
			{"report", extract, "--format", "json"},
		} {
			name := strings.Join(append([]string{args[0]}, args[2:]...), " ")
			r := run(t, nil, args...)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("%g: %s: exit %d, stderr %q", v, name, r.code, r.stderr)
				continue
			}
			out := r.stdout
			if args[0] == "handoff" && len(args) > 2 {
				b, err := os.ReadFile(html)
				if err != nil {
					t.Fatal(err)
				}
				out = string(b)
			}
			if bad := absurd(out); bad != "" {
				t.Errorf("%g: %s: %q", v, name, bad)
			}
			switch {
			case args[0] == "events":
				sc := bufio.NewScanner(strings.NewReader(out))
				sc.Buffer(nil, 1<<20)
				n := 0
				for ; sc.Scan(); n++ {
					if !json.Valid(sc.Bytes()) {
						t.Errorf("%g: %s: line %d is not JSON: %s", v, name, n+1, sc.Text())
					}
				}
				if n < 100 {
					t.Errorf("%g: %s: %d lines: stopped part-way?", v, name, n)
				}
			case strings.HasSuffix(name, "json"):
				var doc struct {
					Findings []json.RawMessage `json:"findings"`
				}
				if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Findings) == 0 {
					t.Errorf("%g: %s: %v, %d findings", v, name, err, len(doc.Findings))
				}
			}
		}
	}
}

// TestWildNumbersInReplay: the replay TUI builds its model from the wild
// recording (findings recomputed up front, every pane fed) on a real
// terminal, plays it to the end and quits cleanly.
func TestWildNumbersInReplay(t *testing.T) {
	share(t)
	file := filepath.Join(t.TempDir(), "wild.stk")
	writeWildNumbers(t, file, 1.7e308)
	p := startOnPTY(t, 200, 50, "replay", file)
	p.waitShown("wild")
	p.master.Write([]byte("\x1b[F")) // End: every event applied
	time.Sleep(500 * time.Millisecond)
	for n := 1; n <= 8; n++ { // each pane zoomed in turn
		p.master.Write([]byte{byte('0' + n)})
		time.Sleep(100 * time.Millisecond)
	}
	p.quit(t)
	screen := ansi.Strip(p.written())
	if !strings.Contains(screen, "wild") {
		t.Errorf("the replay never showed the recording:\n%s", screen)
	}
	if bad := absurd(screen); bad != "" || strings.Contains(screen, "panic") {
		t.Errorf("the screen shows %q:\n%s", bad, screen)
	}
}
