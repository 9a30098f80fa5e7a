package probes

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
)

// fixtureLines reads a testdata/kmsg log, dropping syslog's "... kernel: "
// prefix so what is left is what /dev/kmsg would carry (maybe with dmesg's
// "[ seconds]" stamp, which the parser accepts).
func fixtureLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "kmsg", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if _, after, ok := strings.Cut(l, "kernel: "); ok {
			l = after
		}
		out = append(out, l)
	}
	return out
}

func TestParseSegfaultLines(t *testing.T) {
	for _, c := range []struct {
		file string
		want schema.SegfaultLine
	}{
		{"segfault-haproxy.log", schema.SegfaultLine{PID: 610, Comm: "haproxy", Addr: "7fdb0426e000", IP: "00007fdb0403305b",
			SP: "00007ffee5ff8988", Error: "4", Object: "ld-musl-x86_64.so.1"}},
		{"segfault-modern.log", schema.SegfaultLine{PID: 16202, Comm: "crashy", Addr: "0", IP: "000055d456524040",
			SP: "00007ffe927980e8", Error: "4", Object: "crashy"}},
		{"segfault-nomap.log", schema.SegfaultLine{PID: 2131, Comm: "a.out", Addr: "0", IP: "0000000000000000",
			SP: "00007ffc7cbd5bc8", Error: "14"}},
	} {
		l, ok := schema.ParseKernelLine(fixtureLines(t, c.file)[0])
		if !ok || l.Segfault == nil {
			t.Errorf("%s: not a segfault: %+v", c.file, l)
			continue
		}
		if *l.Segfault != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, *l.Segfault, c.want)
		}
	}
}

func TestParseOOMHungIOAndConntrackLines(t *testing.T) {
	oom := fixtureLines(t, "oom-kill.log")
	if l, _ := schema.ParseKernelLine(oom[0]); l.OOMConstraint == nil || *l.OOMConstraint != (schema.OOMConstraintLine{Constraint: "CONSTRAINT_NONE", PID: 1234}) {
		t.Errorf("constraint line: %+v", l.OOMConstraint)
	}
	if l, _ := schema.ParseKernelLine(oom[1]); l.OOMKill == nil || *l.OOMKill != (schema.OOMKillLine{PID: 1234, Comm: "mysqld", RSSKB: 1207460 + 1024 + 4}) {
		t.Errorf("kill line: %+v", l.OOMKill)
	}
	memcg := fixtureLines(t, "oom-kill-memcg.log")
	if l, _ := schema.ParseKernelLine(memcg[0]); l.OOMConstraint == nil || l.OOMConstraint.Constraint != "CONSTRAINT_MEMCG" || l.OOMConstraint.PID != 27015 {
		t.Errorf("memcg constraint: %+v", l.OOMConstraint)
	}
	if l, _ := schema.ParseKernelLine(memcg[1]); l.OOMKill == nil || *l.OOMKill != (schema.OOMKillLine{PID: 27015, Comm: "java", RSSKB: 1048192 + 17056, Memcg: true}) {
		t.Errorf("memcg kill: %+v", l.OOMKill)
	}
	old := fixtureLines(t, "oom-kill-old.log")
	if l, ok := schema.ParseKernelLine(old[0]); ok {
		t.Errorf("old kill announcement counted too: %+v", l)
	}
	if l, _ := schema.ParseKernelLine(old[1]); l.OOMKill == nil || l.OOMKill.RSSKB != 1008080 {
		t.Errorf("old kill line: %+v", l.OOMKill)
	}
	if l, _ := schema.ParseKernelLine(fixtureLines(t, "hung-task.log")[0]); l.HungTask == nil || *l.HungTask != (schema.HungTaskLine{PID: 245, Comm: "jbd2/sda1-8", Seconds: 120}) {
		t.Errorf("hung task: %+v", l.HungTask)
	}
	io := fixtureLines(t, "io-error.log")
	for i, want := range []struct {
		dev, op string
		sector  uint64
	}{{"sda", "READ", 123456789}, {"loop0", "WRITE", 8}, {"sdb", "", 2048}} {
		l, _ := schema.ParseKernelLine(io[i])
		if l.IOError == nil || l.IOError.Device != want.dev || l.IOError.Sector == nil || *l.IOError.Sector != want.sector || l.IOError.Op != want.op {
			t.Errorf("io line %d: %+v", i, l.IOError)
		}
	}
	if l, _ := schema.ParseKernelLine(io[3]); l.IOError == nil || l.IOError.Device != "sdb1" || l.IOError.Block == nil || *l.IOError.Block != 0 {
		t.Errorf("buffer I/O line: %+v", l.IOError)
	}
	for _, line := range fixtureLines(t, "conntrack-soundcloud.log") {
		if l, ok := schema.ParseKernelLine(line); !ok || !l.ConntrackFull {
			t.Errorf("not a conntrack drop: %q", line)
		}
	}
	for _, line := range []string{"", "EXT4-fs (loop0): mounted filesystem", "segfault at nowhere", "INFO: task list"} {
		if l, ok := schema.ParseKernelLine(line); ok {
			t.Errorf("%q parsed as %+v", line, l)
		}
	}
}

func TestParseKmsgRecord(t *testing.T) {
	r, err := parseKmsgRecord([]byte("12,7,1234567,c,caller=T1;stakeout-test: hello\\x1b[2J\n SUBSYSTEM=block\n DEVICE=b7:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := kmsgRecord{Pri: 12, Seq: 7, TSUS: 1234567, Cont: true, Text: `stakeout-test: hello\x1b[2J`, Device: "b7:0", Subsystem: "block"}
	if r != want || r.level() != "warning" || r.facility() != "user" {
		t.Errorf("got %+v %s %s", r, r.level(), r.facility())
	}
	for _, bad := range []string{"", "no semicolon", "1,2;x", "a,b,c,-;x"} {
		if _, err := parseKmsgRecord([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

type kmsgCollector struct {
	mu  sync.Mutex
	evs []event.Event
}

func (c *kmsgCollector) emit(ev event.Event) { c.mu.Lock(); c.evs = append(c.evs, ev); c.mu.Unlock() }
func (c *kmsgCollector) kmsgs() []*schema.Kmsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*schema.Kmsg
	for _, ev := range c.evs {
		if k, ok := event.As[schema.Kmsg](ev); ok {
			out = append(out, k)
		}
	}
	return out
}

// The fixture tree's dev/kmsg is a file of records; the probe keeps those
// within the backlog, stamps them at boot + kernel time, then follows lines
// appended later as live ones.
func TestKmsgProbeBacklogThenFollow(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "dev"), 0o755)
	src, _ := os.ReadFile(filepath.Join("testdata", "kmsg", "dev", "kmsg"))
	path := filepath.Join(dir, "dev", "kmsg")
	os.WriteFile(path, src, 0o644)

	cfg := DefaultConfig()
	cfg.Kmsg = schema.KmsgConfig{Dev: filepath.Join(dir, "dev"), Backlog: time.Second}
	p := newKmsg(cfg)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	boot := start.Add(-5203300 * time.Millisecond)
	p.now = func() time.Time { return start }
	p.boot = func() time.Time { return boot }
	ctx, cancel := context.WithCancel(context.Background())
	var c kmsgCollector
	done := make(chan error)
	go func() { done <- p.Run(ctx, c.emit) }()
	testenv.Eventually(t, 5*time.Second, "three kernel lines", func() bool { return len(c.kmsgs()) >= 3 })
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("3,610,5204000000,-;stakeout-test: live line\n")
	f.Close()
	testenv.Eventually(t, 5*time.Second, "the fourth kernel line", func() bool { return len(c.kmsgs()) >= 4 })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run = %v", err)
	}
	ks := c.kmsgs()
	if len(ks) != 4 {
		t.Fatalf("%d records, want 4 (the boot line is outside the backlog): %+v", len(ks), ks)
	}
	if ks[0].Seq != 607 || ks[0].Subsystem != "block" || ks[0].Device != "b7:0" || !ks[0].Backlog {
		t.Errorf("first: %+v", ks[0])
	}
	if want := boot.Add(5202836967 * time.Microsecond); !c.evs[0].Time.Equal(want) {
		t.Errorf("first at %v, want %v", c.evs[0].Time, want)
	}
	if ks[2].Seq != 609 || !strings.Contains(ks[2].Text, "haproxy[610]") || ks[2].Level != "info" || ks[2].Facility != "kern" {
		t.Errorf("third: %+v", ks[2])
	}
	if ks[3].Backlog || ks[3].Level != "err" || !c.evs[3].Time.Equal(start) {
		t.Errorf("live line: %+v at %v", ks[3], c.evs[3].Time)
	}
}

func TestKmsgUnavailableWithoutDevice(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Kmsg.Dev = t.TempDir()
	err := newKmsg(cfg).Check()
	if st := StatusOf(err); st.Status != event.StatusUnavailable || !strings.Contains(st.Reason, "no ") {
		t.Errorf("status %+v", st)
	}
}
