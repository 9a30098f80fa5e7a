//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// writeHandoffSession records 40 s of web-3: sdb saturated from +10 s to
// +22 s, two SIGHUPs 3 ms apart to haproxy at +30 s, and a note at +31 s.
func writeHandoffSession(t *testing.T) string {
	t.Helper()
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	path := filepath.Join(t.TempDir(), "web-3.stk")
	w, err := sessions.Create(path, sessions.Header{Hostname: "web-3", Kernel: "6.18.0", Started: t0, Interval: time.Second},
		sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	write(event.New(t0, "iostat", &event.ProbeStatus{Status: event.StatusOK}))
	write(event.New(t0, "signals", &event.ProbeStatus{Status: event.StatusOK}))
	uid := 0
	for s := 1; s <= 40; s++ {
		sdb := schema.DeviceIO{Device: "sdb", WPerS: 40, WKBPerS: 320, WAwaitMs: 2, AquSz: 0.1, UtilPct: 8}
		if s >= 10 && s <= 22 {
			sdb = schema.DeviceIO{Device: "sdb", WPerS: 850, WKBPerS: 110800, WAwaitMs: 250, AquSz: 42, UtilPct: 99.8}
		}
		write(event.New(at(s*1000), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{sdb}}))
		if s == 30 {
			for _, ms := range []int{30_000, 30_003} {
				write(event.New(at(ms), "signals", &schema.Signal{PID: 610, TID: 610, Comm: "haproxy", Signal: "SIGHUP",
					Signo: 1, Code: "SI_USER", SenderPID: 4410, SenderUID: &uid, SenderComm: "logrotate"}))
			}
		}
		if s == 31 {
			write(event.New(at(31_000), event.ProbeNote, &event.Note{Author: "alice", Text: "two HUPs from logrotate: the postrotate script runs twice"}))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHandoff(t *testing.T) {
	share(t)
	file := writeHandoffSession(t)
	r := run(t, nil, "handoff", file)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	md := r.stdout
	for _, want := range []string{"# Handoff: web-3", "| window | 2026-11-23 04:00:00 → 04:00:40 UTC (40s) |",
		"### 1. WARN · io.saturated · 04:00:14.000", "### 2. WARN · signal.burst · 04:00:30.003",
		"| 04:00:30.000 | signal | 610 (haproxy) | SIGHUP SI\\_USER | 4410 (logrotate) uid 0 |",
		"- **04:00:31.000** alice: two HUPs from logrotate: the postrotate script runs twice",
		"    stakeout replay " + file, "%util by device"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	// handoff and report recompute the same findings.
	rep := run(t, nil, "report", file, "--format", "json")
	var doc snapDoc
	if err := json.Unmarshal([]byte(rep.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if want := "**" + strconv.Itoa(len(doc.Findings)) + " findings**: 0 critical, 2 warn, 0 info. **1 note.**"; len(doc.Findings) != 2 || !strings.Contains(md, want) {
		t.Errorf("report has %d findings; handoff says %q", len(doc.Findings), md[:strings.Index(md, " findings**")+11])
	}

	// -o OUT.html: one page, mode 0600; -o OUT.md: the same Markdown.
	dir := t.TempDir()
	html := filepath.Join(dir, "web-3.html")
	if r := run(t, nil, "handoff", file, "-o", html); r.code != 0 || !strings.Contains(r.stdout, "wrote "+html+": findings 2, notes 1") {
		t.Fatalf("%+v", r)
	}
	st, err := os.Stat(html)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", st, err)
	}
	page, _ := os.ReadFile(html)
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) || bytes.Count(page, []byte("<svg")) != 3 || bytes.Contains(page, []byte("<script")) {
		t.Errorf("page: %d bytes, %d svg", len(page), bytes.Count(page, []byte("<svg")))
	}
	out := filepath.Join(dir, "web-3.md")
	if r := run(t, nil, "handoff", file, "-o", out); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if b, _ := os.ReadFile(out); string(b) != md {
		t.Errorf("-o OUT.md differs from stdout")
	}
}

func TestHandoffWindow(t *testing.T) {
	share(t)
	file := writeHandoffSession(t)
	// A note appended to the finished file shows in time order.
	if r := run(t, []string{"STAKEOUT_AUTHOR=bob"}, "note", file, "LB ruled out", "--at", "+27s"); r.code != 0 {
		t.Fatalf("note: %+v", r)
	}
	// sdb's saturation (04:00:10-22) is cleared at 04:00:25, 3 s below the
	// line: a window from then holds that clear, so it starts a second later.
	r := run(t, nil, "handoff", file, "--since", "+26s", "--until", "04:00:35")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if strings.Contains(r.stdout, "io.saturated") || !strings.Contains(r.stdout, "### 1. WARN · signal.burst") {
		t.Errorf("window 04:00:26-35 should hold only the burst:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "- **04:00:27.000** bob: LB ruled out\n- **04:00:31.000** alice:") {
		t.Errorf("notes not in time order:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "| window | 2026-11-23 04:00:26 → 04:00:35 UTC (9s) |") ||
		!strings.Contains(r.stdout, "    stakeout replay "+file+" --since 2026-11-23T04:00:26Z\n") {
		t.Errorf("window or replay command:\n%s", r.stdout)
	}
}

func TestHandoffErrors(t *testing.T) {
	share(t)
	file := writeHandoffSession(t)
	dir := t.TempDir()
	oneLineError(t, run(t, nil, "handoff", filepath.Join(dir, "nope.stk")), exitError, "no such file")
	oneLineError(t, run(t, nil, "handoff", file, "-o", filepath.Join(dir, "out.txt")), exitUsage, "use .md or .html")
	oneLineError(t, run(t, nil, "handoff", file, "--since", "yesterday"), exitUsage, "--since")
	oneLineError(t, run(t, nil, "handoff", file, "--since", "+20s", "--until", "+10s"), exitUsage, "before --since")
	existing := filepath.Join(dir, "taken.html")
	os.WriteFile(existing, []byte("someone's page"), 0o600)
	oneLineError(t, run(t, nil, "handoff", file, "-o", existing), exitError, "file exists")
	if b, _ := os.ReadFile(existing); string(b) != "someone's page" {
		t.Errorf("an existing output was overwritten: %q", b)
	}
	notSession := filepath.Join(dir, "notes.txt")
	os.WriteFile(notSession, []byte("hello"), 0o600)
	out := filepath.Join(dir, "x.md")
	oneLineError(t, run(t, nil, "handoff", notSession, "-o", out), exitError, "not a stakeout session file")
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed handoff left %s behind", out)
	}
}

// A tcpdump capture is read like a recording: the gap in a VRRP flow comes
// with the packets either side of it.
func TestHandoffOnTcpdumpCapture(t *testing.T) {
	share(t)
	path := writeVRRPCapture(t)
	r := run(t, []string{"TMPDIR=" + t.TempDir()}, "handoff", path)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{"### 1. CRITICAL · packet.gap · 04:00:18.499 (cleared at 04:00:18)", "| 04:00:15.000 | 1.00 s | — | 54 B |",
		"| **04:00:18.500** ◀ | 3.50 s | — | 54 B |", "| 04:00:19.500 | 1.00 s | — | 54 B |", "packets per second by interface"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lacks %q:\n%s", want, r.stdout)
		}
	}
}

// The replay command is pasted later, somewhere else: it names the file by
// its absolute path even when handoff was given a relative one, in both
// formats, and the path it names is the recording.
func TestHandoffReplayPathIsAbsolute(t *testing.T) {
	share(t)
	file := writeHandoffSession(t)
	dir := filepath.Dir(file)
	handoff := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binPath, append([]string{"handoff"}, args...)...)
		cmd.Dir = dir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || errb.Len() > 0 {
			t.Fatalf("handoff %v: %v %s", args, err, errb.String())
		}
		return out.String()
	}
	md := handoff("web-3.stk")
	i := strings.Index(md, "    stakeout replay ")
	if i < 0 {
		t.Fatalf("no replay command:\n%s", md)
	}
	named := strings.TrimSpace(strings.SplitN(md[i:], "\n", 2)[0][len("    stakeout replay "):])
	if named != file || !filepath.IsAbs(named) {
		t.Errorf("replay names %q, want %q", named, file)
	}
	if st, err := os.Stat(named); err != nil || !st.Mode().IsRegular() {
		t.Errorf("the path it names: %v", err)
	}
	if !strings.Contains(md, "| file | "+file+" |") {
		t.Errorf("the file row does not name %s", file)
	}
	handoff("web-3.stk", "-o", "web-3.html")
	page, err := os.ReadFile(filepath.Join(dir, "web-3.html"))
	if err != nil || !strings.Contains(string(page), "<pre><code>stakeout replay "+file+"</code></pre>") {
		t.Errorf("the page's replay command does not name %s (%v)", file, err)
	}
}
