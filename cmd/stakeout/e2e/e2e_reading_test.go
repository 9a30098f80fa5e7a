//go:build linux

package e2e

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// writeOutOfOrder records three minutes of a host the way a real recording
// departs from time order: the kernel log's backlog (lines from six minutes
// before the session, a segfault and a hung task among them) is written
// after the first samples; one sample early in the file is stamped in the
// year 3000 (a bad clock, or a hostile file); a segfault comes during the
// session; and `stakeout note` appends a note about the backlog after the
// file was closed.
func writeOutOfOrder(t *testing.T, path string) {
	t.Helper()
	w, err := sessions.Create(path, sessions.Header{Hostname: "db-7", Started: xt(0), Interval: time.Second},
		sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	kmsg := func(s float64, backlog bool, text string) {
		must(w.Write(event.New(xt(s), "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "kern", Backlog: backlog, Text: text})))
	}
	for _, p := range []string{"kmsg", "conntrack"} {
		must(w.Write(event.New(xt(0), p, &event.ProbeStatus{Status: event.StatusOK})))
	}
	for s := 0; s <= 180; s++ {
		must(w.Write(event.New(xt(float64(s)), "conntrack", &schema.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1})))
		switch s {
		case 1:
			for l := 0; l < 60; l++ {
				kmsg(float64(-360+l), true, fmt.Sprintf("eth0: link flap %d", l))
			}
			kmsg(-300, true, "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]")
			kmsg(-240, true, "INFO: task jbd2/sda1-8:245 blocked for more than 120 seconds.")
		case 5:
			must(w.Write(event.New(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "conntrack",
				&schema.ConntrackSample{Count: 10, Max: 65536, IntervalS: 1})))
		case 150:
			kmsg(150, false, "nginx[77]: segfault at 0 ip 000055d0c0ffee00 sp 00007ffd00000000 error 6 in nginx[55d0c0f00000+100000]")
		}
		must(w.Flush())
	}
	must(w.Close())
	if r := run(t, nil, "note", path, "the flaps started here", "--at", xt(-330).Format(time.RFC3339)); r.code != 0 {
		t.Fatalf("note: %+v", r)
	}
}

// parseEvents parses `stakeout events` output.
func parseEvents(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 4<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not an event line: %q", sc.Text())
		}
		evs = append(evs, m)
	}
	return evs
}

func evTime(t *testing.T, m map[string]any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, m["time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestWindowsOfAnOutOfOrderRecording: events, handoff and extract pick a
// window's events by their own time. Before, each stopped at the first
// event after the window: the backlog, written after the first samples,
// was lost to any window ending before the session began, and the
// year-3000 sample ended every read without --until too.
func TestWindowsOfAnOutOfOrderRecording(t *testing.T) {
	share(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "order.stk")
	writeOutOfOrder(t, file)

	all := run(t, nil, "events", file)
	if all.code != 0 {
		t.Fatalf("events: %+v", all)
	}
	every := parseEvents(t, all.stdout)
	until := xt(-200) // inside the backlog
	var want []string
	findings := map[string]int{}
	for _, m := range every {
		if !evTime(t, m).After(until) {
			want = append(want, fmt.Sprint(m))
		}
		if m["kind"] == "finding" && m["state"] == nil { // raises, not their updates and clears
			findings[m["finding"].(string)]++
		}
	}
	if len(want) < 63 || findings["kernel.segfault"] != 2 || findings["kernel.hung_task"] != 1 {
		t.Fatalf("fixture: %d events up to %v, findings %v", len(want), until, findings)
	}

	r := run(t, nil, "events", file, "--until", until.Format(time.RFC3339))
	var got []string
	for _, m := range parseEvents(t, r.stdout) {
		got = append(got, fmt.Sprint(m))
	}
	if r.code != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events --until %v: exit %d, %d events, want %d (stderr %q)", until, r.code, len(got), len(want), r.stderr)
	}

	// handoff: the backlog's two findings in a window that ends before
	// the session, and all three, past the year-3000 sample, in the whole.
	for _, c := range []struct {
		args []string
		want string
		note bool
	}{
		{[]string{"--until", until.Format(time.RFC3339)}, "**2 findings**", true},
		{[]string{"--since", xt(0).Format(time.RFC3339), "--until", xt(170).Format(time.RFC3339)}, "**1 finding**", false},
		{nil, "**3 findings**", true},
	} {
		r := run(t, nil, append([]string{"handoff", file}, c.args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, c.want) || strings.Contains(r.stdout, "the flaps started here") != c.note {
			t.Errorf("handoff %v: exit %d, want %s, the note %v; stderr %q\n%s", c.args, r.code, c.want, c.note, r.stderr, r.stdout)
		}
	}

	// extract: the backlog window is copied whole, note included; and a
	// window from the start runs past the year-3000 sample to the segfault.
	out := filepath.Join(dir, "backlog.stk")
	r = run(t, nil, "extract", file, "--since", xt(-400).Format(time.RFC3339), "--until", until.Format(time.RFC3339), "-o", out)
	if r.code != 0 {
		t.Fatalf("extract: %+v", r)
	}
	kinds := func(path string) map[string]int {
		_, evs := readEvents(t, path)
		n := map[string]int{}
		for _, ev := range evs {
			n[ev.Kind]++
		}
		return n
	}
	if n := kinds(out); n["kmsg"] != 62 || n["note"] != 1 {
		t.Errorf("extract of the backlog window holds %v, want 62 kernel log lines and the note", n)
	}
	rest := filepath.Join(dir, "rest.stk")
	if r = run(t, nil, "extract", file, "--since", xt(0).Format(time.RFC3339), "-o", rest); r.code != 0 {
		t.Fatalf("extract: %+v", r)
	}
	if n := kinds(rest); n["kmsg"] != 1 || n["conntrack"] < 182 {
		t.Errorf("extract from the start holds %v, want the session's segfault line and every sample", n)
	}
}

// truncated writes the ten-minute incident of extract_test.go and cuts it
// in the middle of a chunk about 60% in, as a full disk or a crash leaves
// a file: no index, a torn last chunk. It returns the path and what a
// reader gets from the cut file.
func truncated(t *testing.T, dir, name string) (string, *sessions.Damage, []event.Event) {
	t.Helper()
	whole := filepath.Join(dir, "whole-"+filepath.Base(name))
	writeIncident(t, whole)
	b, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b[:len(b)*6/10], 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := sessions.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var evs []event.Event
	it := r.Iter(time.Time{})
	for ev, ok := it.Next(); ok; ev, ok = it.Next() {
		evs = append(evs, ev)
	}
	var d *sessions.Damage
	if err := it.Err(); err == nil || !strings.Contains(err.Error(), "recording ends early") {
		t.Fatalf("the cut file reads with %v", err)
	} else {
		d = r.Damage()
	}
	return path, d, evs
}

// damageLine checks the damage contract: exit 4, and stderr exactly one
// line, ending in a newline, naming the file and what was lost.
func damageLine(t *testing.T, what string, r result, file string, d *sessions.Damage) {
	t.Helper()
	want := "stakeout: warning: " + event.Sanitize(file) + ": " + d.Error() + "\n"
	if r.code != exitDamaged || r.stderr != want {
		t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", what, r.code, r.stderr, exitDamaged, want)
	}
}

// TestDamageContract: every command that reads a recording, given a cut
// file, writes all it could read, then one warning line, and exits 4.
func TestDamageContract(t *testing.T) {
	share(t)
	dir := t.TempDir()
	file, d, evs := truncated(t, dir, "cut.stk")
	count := map[string]int{}
	packets := 0
	for _, ev := range evs {
		count[ev.Kind]++
		if b, ok := event.As[packet.PacketBatch](ev); ok {
			packets += b.N()
		}
	}
	if count["io"] < 200 || count["io"] > 500 {
		t.Fatalf("the cut file holds %v", count)
	}

	r := run(t, nil, "events", file, "--kind", "io")
	damageLine(t, "events", r, file, d)
	if n := len(parseEvents(t, r.stdout)); n != count["io"] {
		t.Errorf("events: %d io events, the reader has %d before the damage", n, count["io"])
	}

	r = run(t, nil, "report", file, "--format", "json")
	damageLine(t, "report", r, file, d)
	var doc struct {
		Damage   string `json:"damage"`
		Findings []struct {
			Finding string `json:"finding"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Damage != d.Error() ||
		!slices.ContainsFunc(doc.Findings, func(f struct {
			Finding string `json:"finding"`
		}) bool {
			return f.Finding == "io.saturated"
		}) {
		t.Errorf("report json: %v %+v\n%s", err, doc, r.stdout)
	}
	r = run(t, nil, "report", file)
	damageLine(t, "report text", r, file, d)
	if !strings.Contains(r.stdout, "io.saturated") {
		t.Errorf("report text lacks the finding before the damage:\n%s", r.stdout)
	}

	r = run(t, nil, "handoff", file)
	damageLine(t, "handoff", r, file, d)
	if !strings.Contains(r.stdout, "io.saturated") || !strings.Contains(r.stdout, "**Warning:** "+d.Error()) {
		t.Errorf("handoff:\n%s", r.stdout)
	}
	html := filepath.Join(dir, "h.html")
	r = run(t, nil, "handoff", file, "-o", html)
	damageLine(t, "handoff -o", r, file, d)
	if st, err := os.Stat(html); err != nil || st.Size() == 0 || !strings.HasPrefix(r.stdout, "wrote ") {
		t.Errorf("handoff -o: %v, stdout %q", err, r.stdout)
	}

	out := filepath.Join(dir, "x.stk")
	r = run(t, nil, "extract", file, "--since", "+10s", "-o", out)
	damageLine(t, "extract", r, file, d)
	_, xevs := readEvents(t, out)
	if len(xevs) == 0 || !xevs[len(xevs)-1].Time.Equal(d.At) {
		t.Errorf("extract: %d events, the last at %v; the damage is at %v", len(xevs), xevs[len(xevs)-1].Time, d.At)
	}

	pcap := filepath.Join(dir, "x.pcap")
	r = run(t, nil, "export", file, "--pcap", pcap)
	damageLine(t, "export", r, file, d)
	if want := fmt.Sprintf("wrote %d packets to %s\n", packets, pcap); r.stdout != want || packets == 0 {
		t.Errorf("export: stdout %q, want %q", r.stdout, want)
	}

	r = run(t, nil, "note", file, "written after the crash", "--at", "+5s")
	damageLine(t, "note", r, file, d)

	// A corrupt chunk in the middle of a closed file: read on past it,
	// and the same one line at the end.
	mid := filepath.Join(dir, "mid.stk")
	writeIncident(t, mid)
	b, err := os.ReadFile(mid)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0xff
	if err := os.WriteFile(mid, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, "events", mid, "--kind", "io")
	if n := len(parseEvents(t, r.stdout)); r.code != exitDamaged || strings.Count(r.stderr, "\n") != 1 ||
		!regexp.MustCompile(`^stakeout: warning: .*mid\.stk: recording damaged at \d\d:\d\d:\d\d: \d+ bytes unreadable, read on from \d\d:\d\d:\d\d\n$`).MatchString(r.stderr) ||
		n < 500 || n >= 601 {
		t.Errorf("events past a corrupt chunk: exit %d, %d events, stderr %q", r.code, n, r.stderr)
	}
}

// controls reports the first terminal control in s: a C0 control other
// than newline, DEL, a C1 control, or invalid UTF-8.
func controls(s string) string {
	for i, r := range s {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return fmt.Sprintf("%q at byte %d: %q", r, i, s[max(0, i-30):min(len(s), i+30)])
		}
	}
	return ""
}

// TestHostileFileNames: a file name holding an escape sequence is shown
// escaped by every command, in its errors, warnings and output lines, for
// a missing file, a damaged one, and one that is written.
func TestHostileFileNames(t *testing.T) {
	share(t)
	dir := t.TempDir()
	const bad = "bad\x1b[2J\x07\x7f\u009bx"
	missing := filepath.Join(dir, bad+"-missing.stk")
	file, _, _ := truncated(t, dir, bad+".stk")
	check := func(what string, r result) {
		t.Helper()
		if c := controls(r.stderr); c != "" {
			t.Errorf("%s: stderr has %s", what, c)
		}
		if c := controls(r.stdout); c != "" {
			t.Errorf("%s: stdout has %s", what, c)
		}
		if r.stderr == "" && r.stdout == "" {
			t.Errorf("%s: printed nothing", what)
		}
	}
	for _, f := range []string{missing, file} {
		for _, args := range [][]string{
			{"events", f}, {"report", f}, {"report", f, "--format", "md"}, {"report", f, "--format", "json"},
			{"handoff", f}, {"handoff", f, "-o", filepath.Join(dir, bad+".html")},
			{"extract", f, "--since", "+1s", "-o", filepath.Join(dir, bad+"-x.stk")},
			{"export", f, "--pcap", filepath.Join(dir, bad+".pcap")},
			{"note", f, "hello", "--at", "+2s"},
			{"replay", f},
		} {
			r := run(t, nil, args...)
			check(strings.Join(args[:1], " ")+" "+strings.Repeat("(missing) ", boolInt(f == missing)), r)
			// An output that exists already is refused with its name.
			if len(args) > 3 && args[len(args)-2] != "--at" && f == file {
				check(args[0]+" onto an existing output", run(t, nil, args...))
			}
		}
	}
	procfs, sysfs := fixtureRoots(t)
	r := run(t, nil, "snapshot", "--duration", "300ms", "--interval", "100ms", "--procfs", procfs, "--sysfs", sysfs,
		"-o", filepath.Join(dir, bad+"-snap.stk"))
	check("snapshot -o", r)
	if r.code != 0 || !strings.Contains(r.stdout, `bad\x1b[2J\x07\x7f\x9bx-snap.stk`) {
		t.Errorf("snapshot: exit %d, stdout %q", r.code, r.stdout)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestUnsupportedVersionNamesTheFileOnce: a file from a future format
// version is refused in one line that names it once.
func TestUnsupportedVersionNamesTheFileOnce(t *testing.T) {
	share(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "v1.stk")
	writeIncident(t, src)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint16(b[8:], 2) // major 2, minor as written
	minor := binary.LittleEndian.Uint16(b[10:])
	file := filepath.Join(dir, "major2.stk")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("stakeout: %s: format version 2.%d, this build reads 1.x\n", file, minor)
	for _, args := range [][]string{{"report", file}, {"events", file}, {"handoff", file}, {"note", file, "hi"}} {
		if r := run(t, nil, args...); r.code != exitError || r.stderr != want || r.stdout != "" {
			t.Errorf("%s: exit %d, stderr %q, want %q", args[0], r.code, r.stderr, want)
		}
	}
}

// hostileName retitles the terminal window when printed raw.
const hostileName = "bad\x1b]0;pwn\x07x"

// exitOf waits up to 10 s for the program on the terminal to exit.
func (p *onPTY) exitOf(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatal("stakeout did not exit")
		return -1
	}
}

// TestReplayOfADamagedFile: replay opens a cut file (before, reading it to
// mark the findings failed and the TUI never started), plays it up to the
// damage and shows where it ends; on quitting it prints the one warning
// line and exits 4. The file's hostile name reaches the terminal escaped.
func TestReplayOfADamagedFile(t *testing.T) {
	share(t)
	file, d, _ := truncated(t, t.TempDir(), hostileName+".stk")
	p := startOnPTY(t, 160, 40, "replay", file)
	p.waitShown("REPLAY")
	p.master.Write([]byte("\x1b[F")) // End: read to the damage
	p.waitShown("recording ends early")
	p.master.Write([]byte("q"))
	code := p.exitOf(t)
	time.Sleep(200 * time.Millisecond) // the reader goroutine drains the terminal
	out := p.written()
	if code != exitDamaged {
		t.Errorf("exit %d, want %d", code, exitDamaged)
	}
	if strings.Contains(out, "\x1b]0;pwn") {
		t.Error("the file name reached the terminal raw")
	}
	if !strings.Contains(ansi.Strip(out), "replay: "+d.Error()) {
		t.Errorf("the screen never said where the recording ends:\n%s", ansi.Strip(out))
	}
	want := "stakeout: warning: " + event.Sanitize(file) + ": " + d.Error()
	if strings.Count(out, "stakeout: warning:") != 1 || !strings.Contains(out, want) {
		t.Errorf("want the one warning line %q after the TUI:\n%q", want, out[max(0, len(out)-400):])
	}
}

// TestLiveRecordingToAHostileName: the live TUI's status line names the
// file it records to, escaped.
func TestLiveRecordingToAHostileName(t *testing.T) {
	share(t)
	procfs, sysfs := fixtureRoots(t)
	file := filepath.Join(t.TempDir(), hostileName+".stk")
	p := startOnPTY(t, 160, 40, "--record", file, "--probes", "iostat", "--procfs", procfs, "--sysfs", sysfs)
	escaped := event.Sanitize(hostileName + ".stk")
	p.waitShown(escaped)
	p.master.Write([]byte("q"))
	if code := p.exitOf(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	out := p.written()
	if strings.Contains(out, "\x1b]0;pwn") {
		t.Error("the file name reached the terminal raw")
	}
	if !strings.Contains(ansi.Strip(out), escaped) {
		t.Errorf("the status line never named %s:\n%s", escaped, ansi.Strip(out))
	}
}
