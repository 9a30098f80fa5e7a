// Package hostile writes a session file whose every string is an attack on
// the terminal that will show it: an OSC that retitles the window, cursor
// movement that clears the screen, a C1 CSI, a bidi override, a bell.
// Tests replay it through every text output and the TUI and check that
// nothing of it reaches the screen raw.
package hostile

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// S is the payload: OSC 0 (set title) ended by BEL, ED (clear screen), CUP
// (cursor home), a C1 CSI (U+009B) with SGR red, a right-to-left override,
// a raw 0x9b byte (invalid UTF-8, a C1 CSI to an 8-bit terminal), a
// backspace and a DEL (which JSON leaves raw).
const S = "x\x1b]0;pwn\x07\x1b[2J\x1b[H\u009b31m\u202eevil\x9b\b\x7f"

// Escaped is how event.Sanitize shows the start of S, which every text
// output must contain where a hostile string was.
const Escaped = `x\x1b]0;pwn\x07\x1b[2J\x1b[H`

// T0 is when the hostile recording starts.
var T0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

// Write records the hostile session to path: S in the header and in the
// strings of every probe's events, a note, and events that make the
// detectors raise findings whose summaries quote S (signal.burst,
// process.killed, disk.deleted_open).
func Write(path string) error {
	w, err := sessions.Create(path, sessions.Header{Hostname: S, Kernel: S, Command: []string{"stakeout", S},
		Started: T0, Interval: time.Second}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		return err
	}
	at := func(ms int) time.Time { return T0.Add(time.Duration(ms) * time.Millisecond) }
	uid := 0
	var evs []event.Event
	for _, p := range []string{"iostat", "signals", "packets", "diskfill", "kmsg", "conntrack", "modules", "coredump"} {
		evs = append(evs, event.New(at(0), p, &event.ProbeStatus{Status: event.StatusOK}))
	}
	evs = append(evs,
		event.New(at(100), "modules", &event.ProbeStatus{Status: event.StatusError, Reason: S}),
		event.New(at(200), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: S, UtilPct: 50, WKBPerS: 10}}}),
		event.New(at(300), "signals", &schema.Exec{PID: 42, OldComm: S, Comm: S, Filename: "/usr/bin/" + S}),
		event.New(at(400), "signals", &schema.Signal{PID: 42, TID: 42, Comm: S, Signal: "SIGHUP", Signo: 1, Code: "SI_USER", SenderPID: 7, SenderUID: &uid, SenderComm: S}),
		event.New(at(410), "signals", &schema.Signal{PID: 42, TID: 42, Comm: S, Signal: "SIGHUP", Signo: 1, Code: "SI_USER", SenderPID: 7, SenderUID: &uid, SenderComm: S}),
		event.New(at(500), "kmsg", &schema.Kmsg{Level: "err", Priority: 3, Facility: "kern", Seq: 1, Text: S, Device: S}),
		event.New(at(600), "packets", &packet.FlowInfo{ID: 1, Iface: S, Proto: "udp", Src: S, Dst: "10.0.0.1:53"}),
		event.New(at(700), "packets", &packet.PacketBatch{Iface: S, Start: at(600), DtUs: []int64{0, 1000}, Flow: []uint32{1, 1}, Flags: packet.ByteNums{0, 0}, Len: []uint32{60, 60}}),
		event.New(at(800), "modules", &schema.ModuleLoad{Module: schema.Module{Module: S, Size: 4096, UsedBy: []string{S}}}),
		event.New(at(900), "coredump", &schema.CoreReadiness{CorePattern: "|" + S, PipeTarget: S, Watched: true, Processes: 1, ZeroLimit: 1,
			NoCore: []schema.CoreLimit{{PID: 42, Comm: S}}}),
		event.New(at(1000), event.ProbeNote, &event.Note{Author: S, Text: S}),
		// A kind from a newer stakeout: readers write it back as the file
		// has it, raw bytes included (a lone 0x9b, DEL, a C1 CSI in UTF-8).
		event.Event{Time: at(1100), Probe: "kmsg", Kind: "kmsg_future",
			Raw: []byte(`{"time":"` + at(1100).Format(time.RFC3339Nano) + `","probe":"kmsg","kind":"kmsg_future","text":"` + "evil\x9b\x7f\u009b[2J" + `"}`)},
	)
	for s := 1; s <= 3; s++ {
		evs = append(evs, event.New(at(1000*s), "diskfill", &schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{{
			Mount: "/" + S, Device: S, FSType: "ext4", SizeBytes: 100 << 20, UsedBytes: 50 << 20, AvailBytes: 50 << 20, FreeBytes: 50 << 20,
			Writers:     []schema.DiskWriter{{PID: 42, Comm: S, WriteBytesPerS: 1 << 20, Files: []schema.GrowingFD{{Path: "/" + S, SizeBytes: 1 << 20, GrowthBytesPerS: 1 << 20}}}},
			DeletedOpen: []schema.DeletedOpen{{PID: 42, Comm: S, Path: "/" + S, SizeBytes: 8 << 20}},
		}}}))
	}
	evs = append(evs, event.New(at(3500), "signals", &schema.Exit{PID: 42, Comm: S, Status: "killed by SIGSEGV", Signal: "SIGSEGV", Core: false}))
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			return fmt.Errorf("%s: %w", ev.Kind, err)
		}
	}
	return w.Close()
}

// Raw reports the first thing in out that would act on a terminal rather
// than be shown: a C0 control other than newline and tab, DEL, a C1
// control (as a byte or as UTF-8), invalid UTF-8, a bidi control, or an
// escape sequence other than SGR (colours and bold, ESC [ … m), which is
// what stakeout's own styling writes. It returns "" if there is none.
func Raw(out string) string {
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRuneInString(out[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return fmt.Sprintf("invalid UTF-8 byte 0x%02x at %d", out[i], i)
		case r == 0x1b:
			j := i + 1
			if j < len(out) && out[j] == '[' {
				j++
				for j < len(out) && (out[j] >= '0' && out[j] <= '9' || out[j] == ';' || out[j] == ':') {
					j++
				}
				if j < len(out) && out[j] == 'm' {
					i = j + 1
					continue
				}
			}
			return fmt.Sprintf("escape sequence %q at %d", out[i:min(len(out), i+8)], i)
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f:
			return fmt.Sprintf("control 0x%02x at %d", r, i)
		case r >= 0x80 && r < 0xa0:
			return fmt.Sprintf("C1 control U+%04X at %d", r, i)
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
			return fmt.Sprintf("bidi control U+%04X at %d", r, i)
		}
		i += size
	}
	return ""
}
