package handoff

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// Issue 12: evidence is rows of words, never a JSON blob.

// everyKind is one event of every kind this build knows, and one it does
// not (as a newer build would write it), each from its own probe.
func everyKind() []event.Event {
	uid, code, gone := 1000, 0, false
	eta := 600.0
	paused, dropped := 12.5, uint64(40)
	bodies := []event.Body{
		&schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sdb", WPerS: 850, WAwaitMs: 250, AquSz: 42, UtilPct: 99.8}}},
		&schema.Signal{PID: 812, TID: 812, Comm: "gimli", Signal: "SIGHUP", Signo: 1, Code: "SI_USER", SenderPID: 4410, SenderUID: &uid, SenderComm: "logrotate"},
		&schema.Fork{PID: 812, Comm: "gimli", ChildPID: 813, How: "clone"},
		&schema.Exec{PID: 813, OldComm: "gimli", Comm: "sh", Filename: "/bin/sh"},
		&schema.Exit{PID: 813, Comm: "sh", Status: "exited 0", ExitCode: &code},
		&schema.Trace{PID: 812, Comm: "gimli", State: schema.TraceAttached, Threads: 4},
		&packet.FlowInfo{ID: 1, Iface: "eth0", Proto: "tcp", Src: "10.0.0.1:5000", Dst: "10.0.0.2:80"},
		&packet.PacketBatch{Iface: "eth0", Start: at(0), DtUs: []int64{0, 100}, Flow: []uint32{1, 1}, Flags: []uint8{packet.FlagSYN, packet.FlagRST}, Len: []uint32{60, 54}},
		&packet.CaptureStats{Iface: "eth0", IntervalS: 1, Packets: 1000, Drops: 12},
		&schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{{Mount: "/var", Device: "/dev/sda2", FSType: "ext4",
			SizeBytes: 100 << 30, UsedBytes: 90 << 30, AvailBytes: 10 << 30, Bytes: schema.Trend{RatePerS: 1 << 20, EtaS: &eta}}}},
		&schema.Kmsg{Level: "err", Priority: 3, Facility: "kern", Seq: 9, Text: "EXT4-fs error (device sda2): bad block"},
		&schema.ConntrackSample{Count: 60000, Max: 65536, IntervalS: 1, Drop: 3},
		&schema.ModuleList{Count: 7, Modules: []string{"ext4", "jbd2", "mbcache", "xfs", "nf_tables", "veth", "bridge"}},
		&schema.ModuleLoad{Module: schema.Module{Module: "nf_conntrack", Size: 180224, UsedBy: []string{"nf_nat"}}},
		&schema.ModuleUnload{Module: schema.Module{Module: "veth", Size: 40960}},
		&schema.CoreReadiness{CorePattern: "|/usr/share/apport/apport %p", PipeTarget: "/usr/share/apport/apport", PipeTargetExists: &gone,
			Processes: 130, ZeroLimit: 2, NoCore: []schema.CoreLimit{{PID: 610, Comm: "haproxy"}, {PID: 1, Comm: "init"}}},
		&event.Note{Author: "alice", Text: "sdb is the binlog disk"},
		&event.ProbeStatus{Status: event.StatusError, Reason: "tracefs went away"},
		&event.Recording{State: "resumed", File: "/var/tmp/stakeout/x.stk", PausedS: &paused, EventsDropped: &dropped},
		&event.Finding{Finding: "io.saturated", Severity: event.Warn, Summary: "sdb saturated", Key: "io.saturated sdb"},
	}
	var evs []event.Event
	for _, b := range bodies {
		evs = append(evs, event.New(at(10_000), "p-"+b.EventKind(), b))
	}
	raw := `{"time":"2026-11-23T04:00:10Z","probe":"p-gpu","kind":"gpu_temp","gpu":{"id":0,"temp_c":91.5},` +
		`"fans":[1200,1300],"label":"card one","slots":[{"n":1},{"n":2}],"spare":null}`
	return append(evs, event.Event{Time: at(10_000), Probe: "p-gpu", Kind: "gpu_temp", Raw: json.RawMessage(raw)})
}

// Every kind reads as one line of words: no JSON object, no line break.
// The events go through a real file first, so each is what a reader gets.
func TestEveryKindDescribedInWords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kinds.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range everyKind() {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := map[string]string{
		schema.KindIO:            "sdb 99.8% util, await 250 ms, queue 42",
		schema.KindSignal:        "SIGHUP SI_USER to 812 (gimli) from 4410 (logrotate) uid 1000",
		schema.KindFork:          "812 (gimli) clone: child 813",
		schema.KindExec:          "813 exec /bin/sh (gimli → sh)",
		schema.KindExit:          "813 (sh) exited 0",
		schema.KindTrace:         "attached 812 (gimli), 4 threads",
		packet.KindFlow:          "eth0 tcp 10.0.0.1:5000 > 10.0.0.2:80",
		packet.KindPackets:       "eth0: 2 packets, 1 SYN, 1 RST",
		packet.KindCaptureStats:  "eth0: 1000 packets, 12 dropped by the kernel",
		schema.KindDiskUsage:     "/var 90.0 GiB used, 10.0 GiB available",
		schema.KindKmsg:          "[err] EXT4-fs error (device sda2): bad block",
		schema.KindConntrack:     "60000 of 65536 entries (92%), drop +3, early_drop +0, insert_failed +0",
		schema.KindModuleList:    "7 modules loaded: ext4, jbd2, mbcache, xfs, nf_tables, … 2 more",
		schema.KindModuleLoad:    "loaded nf_conntrack (176.0 KiB), used by nf_nat",
		schema.KindModuleUnload:  "unloaded veth (40.0 KiB)",
		schema.KindCoreReadiness: "core_pattern |/usr/share/apport/apport %p (/usr/share/apport/apport does not exist); 2 of 130 processes with a core size limit of 0 (610 (haproxy), 1 (init))",
		event.KindNote:           "alice: sdb is the binlog disk",
		event.KindProbeStatus:    "probe error: tracefs went away",
		event.KindRecording:      "recording resumed /var/tmp/stakeout/x.stk after 12.50 s, 40 events dropped",
		event.KindFinding:        "WARN io.saturated: sdb saturated",
		"gpu_temp":               `gpu.id=0 gpu.temp_c=91.5 fans=1200,1300 label="card one" slots[0].n=1 slots[1].n=2`,
	}
	seen := map[string]bool{}
	it := r.Iter(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		seen[ev.Kind] = true
		got := describe(ev)
		if got != want[ev.Kind] {
			t.Errorf("%s reads %q, want %q", ev.Kind, got, want[ev.Kind])
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(want) {
		t.Errorf("read %d kinds, want %d", len(seen), len(want))
	}
}

// jsonObject is what a JSON object looks like in a row: {"key": or, once
// escaped for HTML, {&#34;key&#34;:.
var jsonObject = regexp.MustCompile(`\{\s*("|&#34;|&quot;)|("|&#34;|&quot;)\s*:\s*[\[{"0-9tfn&]`)

// A finding's evidence is rows of words whatever the events around it: a
// recording with every kind, each from its own probe, and a finding of
// that probe beside each (findings this build does not compute stay as
// recorded, so each gets the generic evidence, its probe's events).
func TestEvidenceRowsHoldNoJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kinds.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "h", Started: t0}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	probesSeen := map[string]bool{}
	for _, ev := range everyKind() {
		write(ev)
		if !probesSeen[ev.Probe] {
			probesSeen[ev.Probe] = true
			write(event.New(at(10_500), ev.Probe, &event.Finding{Finding: "test.nearby", Severity: event.Warn,
				Summary: "something about " + ev.Probe}))
		}
	}
	write(event.New(at(20_000), "iostat", &schema.IOSample{IntervalS: 1}))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := build(t, path, Options{})
	kinds := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Name != "test.nearby" {
			continue
		}
		for _, r := range f.Evidence.Rows {
			kinds[r.Cells[0]] = true
			for _, c := range r.Cells {
				if c == "" || strings.ContainsAny(c, "\n\r") || jsonObject.MatchString(c) {
					t.Errorf("%s: evidence cell %q is not one line of words", f.Summary, c)
				}
			}
		}
	}
	// All but the finding and the note (listed on their own) are evidence.
	if len(kinds) != len(everyKind())-2 {
		t.Errorf("evidence holds %d kinds (%v), want %d", len(kinds), kinds, len(everyKind())-2)
	}
	for name, out := range map[string]string{"markdown": markdown(t, rep), "html": html(t, rep)} {
		if m := jsonObject.FindString(out); m != "" {
			i := strings.Index(out, m)
			t.Errorf("%s holds JSON: …%s…", name, out[max(i-80, 0):min(i+80, len(out))])
		}
	}
}
