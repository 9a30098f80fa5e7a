//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/sigtarget"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

// stkPlain returns every byte of a .stk file a reader could see: the raw
// file and, after it, each segment decompressed. It follows FORMAT.md
// rather than the sessions package, so a string hidden by zstd cannot
// slip past a test that looks for it.
func stkPlain(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), b...)
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var seg []byte
	segments := 0
	decode := func() {
		if seg == nil {
			return
		}
		dec.Reset(bytes.NewReader(seg))
		plain, err := io.ReadAll(dec)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) { // an unclosed segment ends early
			t.Fatalf("segment %d of %s: %v", segments, path, err)
		}
		out = append(out, '\n')
		out = append(out, plain...)
		seg = nil
		segments++
	}
	for off := 12; off+36 <= len(b); {
		if string(b[off:off+4]) != "STKC" {
			t.Fatalf("%s: no chunk at %d", path, off)
		}
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		payload := b[off+36 : off+36+n]
		switch b[off+4] {
		case 'S':
			decode()
			seg = append([]byte(nil), payload...)
		case 'C':
			seg = append(seg, payload...)
		default:
			decode()
		}
		off += 36 + n
	}
	decode()
	if segments == 0 {
		t.Fatalf("%s: no segments", path)
	}
	return out
}

// copyExe copies an executable to dir/name, so a process runs with that
// name as its comm.
func copyExe(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// Seeded values that must not survive --redact anywhere in the output.
var redactSeeds = []string{
	"zq-db-7", "corp.example", // the hostname, and as a comm
	"zqalice",                                                // a user: STAKEOUT_AUTHOR and a sender's comm
	"10.77.1.2", "10.77.1.3", "2a01:4f8:77", "2a01:4f8:0:77", // addresses, in kmsg text and flows
	"hunter2", "tok-q7x", "eyQ7abc", "zzq7sess", // secrets
}

// TestRedactedLiveRecording is the live side of --redact: a snapshot on a
// host (a UTS and network namespace) named zq-db-7.corp.example records a
// kmsg line full of secrets and addresses, UDP flows over IPv4 and IPv6
// between seeded addresses, and a SIGHUP from a process named after a
// user to one named after the host. Not one seeded value may appear in the
// file, decompressed, or in the printed report, while the events
// themselves are all there under pseudonyms.
func TestRedactedLiveRecording(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "to make UTS and network namespaces, trace and capture")
	for _, tool := range []string{"ip", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make test installs iproute2 and util-linux)", tool)
		}
	}
	ns := fmt.Sprintf("stk-red%d", os.Getpid()%100000)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", "10.77.1.2/32", "dev", "lo"},
		{"-n", ns, "addr", "add", "10.77.1.3/32", "dev", "lo"},
		{"-n", ns, "addr", "add", "2a01:4f8:77::2/128", "dev", "lo", "nodad"},
		{"-n", ns, "addr", "add", "2a01:4f8:0:77::3/128", "dev", "lo", "nodad"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	dir := t.TempDir()
	// The traced process is named after the host, the sender after a user.
	target := exec.Command(copyExe(t, os.Args[0], dir, "zq-db-7"))
	target.Env = sigtarget.Environ("count")
	tout, _ := target.StdoutPipe()
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Process.Kill(); target.Wait() })
	tg := &sigTarget{pid: target.Process.Pid, lines: bufio.NewScanner(tout)}
	tg.expect(t, "ready")
	// A shell named after the user sends the signal with its builtin kill
	// and lives on a moment, so its comm can be read.
	killer := copyExe(t, "/bin/sh", dir, "zqalice")

	file := filepath.Join(dir, "r.stk")
	cmd := exec.Command("ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c",
		`hostname zq-db-7.corp.example && exec "$0" "$@"`,
		binPath, "snapshot", "--redact", "--duration", "4s", "--probes", "kmsg,packets,signals",
		"--iface", "lo", "--kmsg-backlog", "30s", "--pid", strconv.Itoa(tg.pid), "-o", file, "--format", "text")
	cmd.Env = append(os.Environ(), "STAKEOUT_AUTHOR=zqalice")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the target is traced", func() bool { n, _ := traced(tg.pid); return n != 0 })

	// The kernel log may open after the target is traced: a backlog of
	// 30 s keeps the line whichever comes first (with 0 s a line written
	// a few ms before /dev/kmsg was opened was lost on a loaded machine).
	line := "<6>zqtest login password=hunter2 token=tok-q7x url https://api.corp.example/x?s=zzq7sess " +
		"from 10.77.1.2 via [2a01:4f8:77::2]:22 on zq-db-7 by zqalice Authorization: Bearer eyQ7abc.def\n"
	if err := os.WriteFile("/dev/kmsg", []byte(line), 0); err != nil {
		t.Fatal(err)
	}
	// A packet per flow every 100 ms for a second, so the capture sees
	// them however late its socket opens on a loaded machine.
	inNetns(t, ns, func() {
		var conns []*net.UDPConn
		for _, p := range [][2]string{{"10.77.1.2:40000", "10.77.1.3:9"}, {"[2a01:4f8:77::2]:40001", "[2a01:4f8:0:77::3]:9"}} {
			la, _ := net.ResolveUDPAddr("udp", p[0])
			ra, _ := net.ResolveUDPAddr("udp", p[1])
			c, err := net.DialUDP("udp", la, ra)
			if err != nil {
				t.Errorf("dial %s: %v", p, err)
				return
			}
			defer c.Close()
			conns = append(conns, c)
		}
		for i := 0; i < 10; i++ {
			for _, c := range conns {
				c.Write([]byte("password=hunter2"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if out, err := exec.Command(killer, "-c", "kill -HUP "+strconv.Itoa(tg.pid)+"; sleep 0.5").CombinedOutput(); err != nil {
		t.Fatalf("kill: %v %s", err, out)
	}
	tg.expect(t, "HUP 1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr.String())
	}

	plain := stkPlain(t, file)
	for _, where := range []struct {
		name string
		b    []byte
	}{{"the recording", plain}, {"the printed report", stdout.Bytes()}} {
		for _, s := range redactSeeds {
			if i := bytes.Index(where.b, []byte(s)); i >= 0 {
				t.Errorf("%q is in %s: …%s…", s, where.name, where.b[max(0, i-80):min(len(where.b), i+80)])
			}
		}
	}
	// What was seen is still there, under pseudonyms.
	for _, want := range []string{
		`"hostname":"host-\d+"`,
		`zqtest login password=\[redacted\] token=\[redacted\] url https://host-\d+/x\?\[redacted\] from 198\.18\.0\.\d+ via \[2001:db8::\d+\]:22 on host-\d+ by user-\d+ Authorization: \[redacted\]"`,
		`"src":"198\.18\.0\.\d+:40000","dst":"198\.18\.0\.\d+:9"`,
		`"src":"\[2001:db8::\d+\]:40001","dst":"\[2001:db8::\d+\]:9"`,
		`"comm":"host-\d+"`, // the target, named after the host
		`"sender_comm":"user-\d+"`,
	} {
		if !regexp.MustCompile(want).Match(plain) {
			t.Errorf("the recording lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("recording:\n%s", plain)
	}
	// The redacted file reads back like any other.
	r := run(t, nil, "events", file, "--kind", "flow")
	if r.code != 0 || strings.Count(r.stdout, "\n") < 2 {
		t.Errorf("events: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
}

// writeSeeded records a session full of values --redact must hide: the
// host zq-db-7.corp.example, the users zqalice and zqbob, addresses
// 10.77.1.2, 10.77.1.3 and 2a01:4f8:77::2, and secrets, in the header,
// process names (a signal burst from a sender named after a user, an exec
// of a file under /home), kmsg text, flows and notes. Nothing says which
// names are users except the note's author and the /home path.
func writeSeeded(t *testing.T, path string) {
	t.Helper()
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	w, err := sessions.Create(path, sessions.Header{Hostname: "zq-db-7.corp.example", Kernel: "6.18.44",
		Command: []string{"stakeout", "--record", "/home/zqalice/zq-db-7.stk", "--filter", "host 10.77.1.3"},
		Started: t0, Interval: time.Second}, sessions.WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	uid := 1000
	evs := []event.Event{
		event.New(at(0), "signals", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(at(0), "packets", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(at(0), "kmsg", &event.ProbeStatus{Status: event.StatusOK}),
		event.New(at(100), "signals", &schema.Exec{PID: 42, OldComm: "bash", Comm: "zq-db-7", Filename: "/home/zqbob/bin/zq-db-7"}),
		event.New(at(1000), "signals", &schema.Signal{PID: 42, TID: 42, Comm: "zq-db-7", Signal: "SIGHUP", Signo: 1, Code: "SI_USER", SenderPID: 7, SenderUID: &uid, SenderComm: "zqalice"}),
		event.New(at(1003), "signals", &schema.Signal{PID: 42, TID: 42, Comm: "zq-db-7", Signal: "SIGHUP", Signo: 1, Code: "SI_USER", SenderPID: 7, SenderUID: &uid, SenderComm: "zqalice"}),
		event.New(at(1500), "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "user", Seq: 1,
			Text: "zqtest login password=hunter2 token=tok-q7x url https://api.corp.example/x?s=zzq7sess from 10.77.1.2 via [2a01:4f8:77::2]:22 on zq-db-7 by zqbob Authorization: Bearer eyQ7abc.def"}),
		event.New(at(2000), "packets", &packet.FlowInfo{ID: 1, Iface: "eth0", Proto: "udp", Src: "10.77.1.2:40000", Dst: "10.77.1.3:9"}),
		event.New(at(2000), "packets", &packet.FlowInfo{ID: 2, Iface: "eth0", Proto: "tcp", Src: "[2a01:4f8:77::2]:40001", Dst: "[2a01:4f8:0:77::3]:443"}),
		event.New(at(2300), "packets", &packet.PacketBatch{Iface: "eth0", Start: at(2000), DtUs: []int64{0, 100, 200000}, Flow: []uint32{1, 2, 1},
			Flags: packet.ByteNums{0, 2, 0}, Len: []uint32{60, 74, 60}, Data: [][]byte{[]byte("password=hunter2 10.77.1.2"), []byte("x"), []byte("y")}}),
		event.New(at(2500), event.ProbeNote, &event.Note{Author: "zqalice", Text: "zqbob restarted it from 10.77.1.3 with token=tok-q7x, ruled out zq-db-7's disk"}),
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// mustNotLeak checks b for every seeded value.
func mustNotLeak(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, s := range append(redactSeeds, "zqbob", "api.corp") {
		if i := bytes.Index(b, []byte(s)); i >= 0 {
			t.Errorf("%q is in %s: …%s…", s, what, b[max(0, i-80):min(len(b), i+80)])
		}
	}
}

// TestRedactedHandoff: handoff --redact of a seeded recording, Markdown
// and HTML, holds none of the seeded values, and still tells the story
// under pseudonyms: the signal burst and its sender, the note, the flows.
func TestRedactedHandoff(t *testing.T) {
	share(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "zq-db-7.stk")
	writeSeeded(t, file)
	// Unredacted, the seeds are all there: the check below can fail.
	if r := run(t, nil, "handoff", file); r.code != 0 || !strings.Contains(r.stdout, "zqalice") || !strings.Contains(r.stdout, "tok-q7x") || !strings.Contains(r.stdout, "10.77.1.3") {
		t.Fatalf("plain handoff: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
	md, html := filepath.Join(dir, "h.md"), filepath.Join(dir, "h.html")
	for _, out := range []string{md, html} {
		r := run(t, nil, "handoff", file, "--redact", "-o", out)
		if r.code != 0 {
			t.Fatalf("handoff --redact -o %s: exit %d: %s", out, r.code, r.stderr)
		}
		mustNotLeak(t, "handoff's own output", []byte(r.stdout+r.stderr))
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		mustNotLeak(t, filepath.Base(out), b)
		for _, want := range []string{"host-", "signal.burst", "user-", "198.18.0.", "2001:db8::", "redacted"} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s lacks %q", filepath.Base(out), want)
			}
		}
		if t.Failed() {
			t.Logf("%s:\n%s", out, b)
		}
	}
}

// TestRedactedExtract: extract --redact of the seeded recording writes a
// session file in which no seeded value survives, decompressed or not;
// one address has one pseudonym everywhere (the flow and the kernel line);
// payload bytes are gone; and the file reads back (report, handoff).
func TestRedactedExtract(t *testing.T) {
	share(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "zq-db-7.stk")
	writeSeeded(t, file)
	if plain := stkPlain(t, file); !bytes.Contains(plain, []byte("hunter2")) || !bytes.Contains(plain, []byte("zqalice")) {
		t.Fatal("the seeded file lacks its seeds: the check below could not fail")
	}
	out := filepath.Join(dir, "x.stk")
	r := run(t, nil, "extract", file, "--since", "+0s", "--redact", "-o", out)
	if r.code != 0 {
		t.Fatalf("extract --redact: exit %d: %s", r.code, r.stderr)
	}
	mustNotLeak(t, "extract's own output", []byte(r.stdout+r.stderr))
	plain := stkPlain(t, out)
	mustNotLeak(t, "the extract", plain)
	if bytes.Contains(plain, []byte(`"data":[`)) {
		t.Error("payload bytes survived")
	}
	// Stable: the flow's source and the kernel line name one pseudonym.
	m := regexp.MustCompile(`"src":"(198\.18\.0\.\d+):40000"`).FindSubmatch(plain)
	if m == nil {
		t.Fatalf("no redacted flow in:\n%s", plain)
	}
	if !bytes.Contains(plain, []byte("from "+string(m[1])+" via")) {
		t.Errorf("10.77.1.2 is %s in the flow but not in the kernel line:\n%s", m[1], plain)
	}
	for _, args := range [][]string{{"report", out}, {"handoff", out}} {
		r := run(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%s of the extract: exit %d: %s", args[0], r.code, r.stderr)
		}
		mustNotLeak(t, args[0]+" of the extract", []byte(r.stdout))
		if !strings.Contains(r.stdout, "signal.burst") {
			t.Errorf("%s of the extract lacks the burst:\n%s", args[0], r.stdout)
		}
	}
	// Pseudonyms are addresses: the packets still export as a capture
	// that tcpdump reads, between the pseudonyms.
	pcap := filepath.Join(dir, "x.pcap")
	if r := run(t, nil, "export", out, "--pcap", pcap); r.code != 0 {
		t.Fatalf("export: exit %d: %s", r.code, r.stderr)
	}
	mustNotLeak(t, "the exported capture", mustReadFile(t, pcap))
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed (make test installs it)")
	}
	td, err := exec.Command("tcpdump", "-r", pcap, "-n").CombinedOutput()
	if err != nil || !bytes.Contains(td, []byte("198.18.0.")) || !bytes.Contains(td, []byte("2001:db8::")) {
		t.Errorf("tcpdump -r: %v\n%s", err, td)
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Without --payload a recording holds packet headers only: a marker sent
// in UDP payloads appears nowhere in the file, decompressed, though the
// flow that carried it does.
func TestPayloadNotStoredWithoutFlag(t *testing.T) {
	share(t)
	testenv.NeedRoot(t, "to capture")
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not installed (make test installs iproute2)")
	}
	ns := fmt.Sprintf("stk-pl%d", os.Getpid()%100000)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{{"netns", "add", ns}, {"-n", ns, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	file := filepath.Join(t.TempDir(), "p.stk")
	cmd := exec.Command("ip", "netns", "exec", ns, binPath, "snapshot", "--duration", "2s", "--probes", "packets",
		"--iface", "lo", "-o", file, "--format", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const marker = "zq-payload-marker-7731"
	inNetns(t, ns, func() {
		c, err := net.Dial("udp", "127.0.0.1:9")
		if err != nil {
			t.Errorf("dial: %v", err)
			return
		}
		defer c.Close()
		for i := 0; i < 12; i++ {
			c.Write([]byte(marker))
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("snapshot: %v %s", err, stderr.String())
	}
	plain := stkPlain(t, file)
	if !bytes.Contains(plain, []byte(`"dst":"127.0.0.1:9"`)) {
		t.Fatalf("the flow was not recorded:\n%s", plain)
	}
	// (Findings have "data" objects; payloads are a "data" array.)
	if bytes.Contains(plain, []byte(marker)) || bytes.Contains(plain, []byte(`"data":[`)) {
		t.Errorf("payload bytes were recorded without --payload")
	}
}
