package redact

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
	"github.com/stakeout/stakeout/sessions"
)

var t0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

func TestTextRules(t *testing.T) {
	r := New()
	r.LearnHost("db-7.prod.corp.example")
	r.LearnUser("alice")
	cases := []struct{ in, want string }{
		// addresses
		{"from 10.0.0.1 to 10.0.0.2", "from 198.18.0.1 to 198.18.0.2"},
		{"again 10.0.0.1:443", "again 198.18.0.1:443"},
		{"zeros 010.000.000.001", "zeros 198.18.0.1"},
		{"[2a01:4f8:c0c:1::5]:80", "[2001:db8::1]:80"},
		{"mapped ::ffff:10.0.0.2.", "mapped ::ffff:198.18.0.2."},
		{"fe80::1c2:3ff:fe44:5566%eth0 up", "2001:db8::2%eth0 up"},
		{"lo 127.0.0.1 ::1 224.0.0.18 255.255.255.255 0.0.0.0 ff02::12", "lo 127.0.0.1 ::1 224.0.0.18 255.255.255.255 0.0.0.0 ff02::12"},
		{"MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=192.168.1.9", "MAC=02:00:00:00:00:01:02:00:00:00:00:02:08:00 SRC=198.18.0.3"},
		{"bcast ff:ff:ff:ff:ff:ff", "bcast ff:ff:ff:ff:ff:ff"},
		// not addresses
		{"std::map at 04:00:10.5 kernel 6.18.44 oid 1.3.6.1.4.1 libc.so.6", "std::map at 04:00:10.5 kernel 6.18.44 oid 1.3.6.1.4.1 libc.so.6"},
		{"sda1 dead:beef", "sda1 dead:beef"},
		// secrets
		{"mysql -u app password=hunter2 --host x", "mysql -u app password=[redacted] --host x"},
		{"TOKEN=abc123 api_key: 'k k' Secret=\"s3\"", "TOKEN=[redacted] api_key: [redacted] Secret=[redacted]"},
		{"curl -H Authorization: Bearer eyJhbGci.x.y", "curl -H Authorization: [redacted]"},
		{"GET https://bob:pw@api.example.com/v1/x?user=bob&sig=zz rest", "GET https://[redacted]@host-3/v1/x?[redacted] rest"},
		{"app --password hunter2 --verbose", "app --password [redacted] --verbose"},
		// names
		{"db-7 kernel: /home/alice/x and /home/carol/y, alice@db-7.prod.corp.example", "host-2 kernel: /home/user-1/x and /home/user-2/y, user-1@host-1"},
		{"malice is not alice_x", "malice is not user-1_x"},
		{"DB-7.PROD.CORP.EXAMPLE", "host-1"},
		{"/etc/nginx/conf.d/site.example.com.conf www.example.org", "/etc/nginx/conf.d/site.example.com.conf host-4"},
	}
	for _, c := range cases {
		if got := r.String(c.in); got != c.want {
			t.Errorf("String(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// A hostile string of hex digits and colons must not make the scan
// quadratic or panic; it is left alone, being no address.
func TestLongRunsAreLinear(t *testing.T) {
	r := New()
	long := strings.Repeat("a1:", 200000)
	if got := r.String(long); got != long {
		t.Fatal("a long hex run changed")
	}
	dots := strings.Repeat("1.", 200000)
	if got := r.String(dots); got != dots {
		t.Fatal("a long dotted run changed")
	}
}

func TestEventBodies(t *testing.T) {
	r := New()
	r.LearnHeader(sessions.Header{Hostname: "web-3"})
	uid := 1000
	evs := []event.Event{
		event.New(t0, "packets", &packet.FlowInfo{ID: 1, Iface: "eth0", Proto: "tcp", Src: "10.1.2.3:5000", Dst: "[2a01:4f8::5]:443"}),
		event.New(t0, "packets", &packet.FlowInfo{ID: 2, Iface: "eth0", Proto: "tcp", Src: "[2a01:4f8::5]:443", Dst: "10.1.2.3:5000"}),
		event.New(t0, "packets", &packet.PacketBatch{Iface: "eth0", Start: t0, DtUs: []int64{0, 5}, Flow: []uint32{1, 2}, Flags: packet.ByteNums{2, 18}, Len: []uint32{60, 60},
			Data: [][]byte{[]byte("\x45\x00 10.1.2.3 password=hunter2"), []byte("payload")}}),
		event.New(t0, "signals", &schema.Signal{PID: 10, Comm: "web-3-worker", Signal: "SIGHUP", Signo: 1, Code: "SI_USER", SenderPID: 5, SenderUID: &uid, SenderComm: "alice-sh"}),
		event.New(t0, "kmsg", &schema.Kmsg{Level: "info", Facility: "user", Text: "login from 10.1.2.3 token=s3cr3t on web-3"}),
		event.New(t0, event.ProbeNote, &event.Note{Author: "alice", Text: "talked to 10.1.2.3"}),
		event.New(t0, "iostat", &event.Finding{Finding: "x.y", Severity: event.Warn, Summary: "flow 10.1.2.3:5000 > [2a01:4f8::5]:443 went quiet", Data: map[string]any{"host": "10.1.2.3", "n": 7}}),
	}
	// As for a file: learn the names first (the note's author comes last).
	for _, ev := range evs {
		r.Learn(ev)
	}
	var out []string
	for _, ev := range evs {
		red := r.Event(ev)
		if red.Kind != ev.Kind || !red.Time.Equal(ev.Time) || red.Probe != ev.Probe {
			t.Fatalf("envelope changed: %+v", red)
		}
		if red.Body == nil {
			t.Fatalf("%s: body not decoded back: %s", ev.Kind, red.Raw)
		}
		b, err := json.Marshal(red)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	all := strings.Join(out, "\n")
	for _, secret := range []string{"10.1.2.3", "2a01:4f8", "hunter2", "s3cr3t", "web-3", "alice", "payload", `"data":[`} {
		if strings.Contains(all, secret) {
			t.Errorf("%q survived redaction:\n%s", secret, all)
		}
	}
	// Stable: one address, one pseudonym, in flows and in text alike.
	f1, _ := event.As[packet.FlowInfo](r.Event(evs[0]))
	f2, _ := event.As[packet.FlowInfo](r.Event(evs[1]))
	if f1.Src != "198.18.0.1:5000" || f1.Dst != "[2001:db8::1]:443" || f2.Src != f1.Dst || f2.Dst != f1.Src {
		t.Errorf("flows not stable: %+v %+v", f1, f2)
	}
	if !strings.Contains(out[4], "login from 198.18.0.1 token=[redacted] on host-1") {
		t.Errorf("kmsg: %s", out[4])
	}
	if !strings.Contains(out[3], `"sender_comm":"user-1-sh"`) || !strings.Contains(out[3], `"comm":"host-1-worker"`) {
		t.Errorf("signal: %s", out[3])
	}
	// The numbers of a packet batch pass through exactly.
	pb, ok := r.Event(evs[2]).Body.(*packet.PacketBatch)
	if !ok || pb.N() != 2 || pb.Len[1] != 60 || pb.Flags[1] != 18 || pb.DtUs[1] != 5 || pb.Data != nil {
		t.Errorf("packet batch: %+v", pb)
	}
}

// An event of a kind this build does not know is walked all the same.
func TestUnknownKind(t *testing.T) {
	r := New()
	raw := `{"time":"2026-11-23T04:00:00Z","probe":"future","kind":"future_kind","peers":{"10.9.9.9":{"user":"dave","args":["--token","abc"]}}}`
	var ev event.Event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	red := r.Event(ev)
	b, _ := json.Marshal(red)
	got := string(b)
	for _, s := range []string{"10.9.9.9", "dave", "abc"} {
		if strings.Contains(got, s) {
			t.Errorf("%q survived: %s", s, got)
		}
	}
	if !strings.Contains(got, `"198.18.0.1":{"args":["--token","[redacted]"],"user":"user-1"}`) {
		t.Errorf("got %s", got)
	}
}

func TestHeader(t *testing.T) {
	r := New()
	h := r.Header(sessions.Header{FormatVersion: 1, Hostname: "db-7.prod.corp.example", Kernel: "6.18.44",
		Command: []string{"stakeout", "--db-password", "hunter2", "--record", "/home/alice/db-7.stk", "--filter", "host 10.0.0.9"},
		Started: t0, Interval: time.Second})
	b, _ := json.Marshal(h)
	got := string(b)
	for _, s := range []string{"db-7", "hunter2", "alice", "10.0.0.9", "corp"} {
		if strings.Contains(got, s) {
			t.Errorf("%q survived: %s", s, got)
		}
	}
	if h.Hostname != "host-1" || h.Kernel != "6.18.44" || !h.Started.Equal(t0) || h.Interval != time.Second ||
		strings.Join(h.Command, " ") != "stakeout --db-password [redacted] --record /home/user-1/host-2.stk --filter host 198.18.0.1" {
		t.Errorf("header: %+v", h)
	}
	// Learned from the header: replaced in events too.
	if got := r.String("ping db-7"); got != "ping host-2" {
		t.Errorf("got %q", got)
	}
}

func TestLearnLocal(t *testing.T) {
	dir := t.TempDir()
	passwd := dir + "/passwd"
	writeFile(t, passwd, "root:x:0:0::/root:/bin/sh\nmail:x:8:8::/var/mail:/usr/sbin/nologin\nzoe:x:1001:1001::/home/zoe:/bin/bash\n")
	t.Setenv("STAKEOUT_AUTHOR", "quentin")
	r := New()
	r.LearnLocal(dir, passwd)
	got := r.String("zoe and quentin got mail as root")
	if strings.Contains(got, "zoe") || strings.Contains(got, "quentin") || !strings.Contains(got, "got mail as root") {
		t.Errorf("got %q", got)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A file full of names cannot push the header's hostname out of the names
// searched for, nor make learning quadratic.
func TestManyNamesKeepTheHostname(t *testing.T) {
	r := New()
	r.LearnHeader(sessions.Header{Hostname: "db-7"})
	for i := range 5000 {
		r.Learn(event.New(t0, event.ProbeNote, &event.Note{Author: "someone-with-a-long-name-" + itoa(i), Text: "x"}))
		r.String("see host-" + itoa(i) + ".a-long-domain-name.example.org")
	}
	if got := r.String("ping db-7 now"); got != "ping host-1 now" {
		t.Errorf("got %q", got)
	}
	if len(r.names) > maxNames {
		t.Errorf("%d names searched", len(r.names))
	}
}
