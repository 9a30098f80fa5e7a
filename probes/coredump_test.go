package probes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
)

func TestParseCoreLimit(t *testing.T) {
	b, _ := os.ReadFile("testdata/coredump/apport/proc/610/limits")
	if s, h, ok := parseCoreLimit(b); !ok || s != 0 || h != -1 {
		t.Errorf("610: %d %d %v", s, h, ok)
	}
	if _, _, ok := parseCoreLimit([]byte("Limit Soft Hard\n")); ok {
		t.Error("no core line parsed")
	}
	if tgt, ok := schema.PipeTarget("|/usr/share/apport/apport %p %s %c %d %P %E"); !ok || tgt != "/usr/share/apport/apport" {
		t.Errorf("pipe target %q", tgt)
	}
	if _, ok := schema.PipeTarget("core"); ok {
		t.Error("core is no pipe")
	}
}

// The haproxy story on a fixture tree: apport is the pipe target but not on
// this host, and haproxy (watched with --proc) has a core limit of 0.
// Fixing core_pattern mid-session sends a new state.
func TestCoredumpProbeOnTheApportTree(t *testing.T) {
	root := testenv.CopyTree(t, "testdata/coredump/apport/proc")
	cfg := DefaultConfig()
	cfg.Procfs, cfg.Interval = root, 20*time.Millisecond
	cfg.Signals.Procs = []string{"haproxy"}
	p := newCoredump(cfg)
	p.exists = func(path string) bool { return path == "/bin/true" }
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var c kmsgCollector
	done := make(chan error)
	go func() { done <- p.Run(ctx, c.emit) }()
	testenv.Eventually(t, 5*time.Second, "the first event", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.evs) >= 1 })
	time.Sleep(60 * time.Millisecond) // unchanged samples send nothing
	os.WriteFile(filepath.Join(root, "sys/kernel/core_pattern"), []byte("|/bin/true %p\n"), 0o644)
	testenv.Eventually(t, 5*time.Second, "the second event", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.evs) >= 2 })
	cancel()
	<-done
	if len(c.evs) != 2 {
		t.Fatalf("%d events, want 2", len(c.evs))
	}
	r, _ := event.As[schema.CoreReadiness](c.evs[0])
	if r.CorePattern != "|/usr/share/apport/apport %p %s %c %d %P %E" || r.PipeTarget != "/usr/share/apport/apport" ||
		r.PipeTargetExists == nil || *r.PipeTargetExists || r.SuidDumpable != 2 || r.CorePipeLimit != 0 || !r.Watched {
		t.Errorf("first %+v", r)
	}
	if r.Processes != 1 || r.ZeroLimit != 1 || len(r.NoCore) != 1 || r.NoCore[0] != (schema.CoreLimit{PID: 610, Comm: "haproxy", Soft: 0, Hard: -1}) {
		t.Errorf("processes %+v", r)
	}
	// Watched: every watched process's limit is listed, so a crash of one can be judged.
	if len(r.Limits) != 1 || r.Limits[0] != (schema.CoreLimit{PID: 610, Comm: "haproxy", Soft: 0, Hard: -1}) {
		t.Errorf("limits %+v", r.Limits)
	}
	r, _ = event.As[schema.CoreReadiness](c.evs[1])
	if r.PipeTarget != "/bin/true" || !*r.PipeTargetExists {
		t.Errorf("second %+v", r)
	}
}

// With no --pid/--proc, every process is read.
func TestCoredumpReadsEveryProcessWhenNoneWatched(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Procfs = "testdata/coredump/apport/proc"
	p := newCoredump(cfg)
	cp := p.readProcs()
	if cp.watched || cp.n != 2 || cp.zero != 1 || cp.listed[0].PID != 610 || cp.all != nil {
		t.Errorf("%+v", cp)
	}
}

func TestCoredumpSummary(t *testing.T) {
	no := false
	var s schema.CoredumpSummary
	s.Observe(event.New(time.Time{}, "coredump", &schema.CoreReadiness{CorePattern: "|/usr/share/apport/apport %p", PipeTarget: "/usr/share/apport/apport",
		PipeTargetExists: &no, SuidDumpable: 2, Watched: true, Processes: 1, ZeroLimit: 1}))
	s.Observe(event.New(time.Time{}, "coredump", &schema.CoreReadiness{CorePattern: "core", Processes: 1}))
	got := strings.Join(s.Lines(), "\n")
	want := "core_pattern core; suid_dumpable 0; core_pipe_limit 0; systemd-coredump false\n" +
		"0 of 1 processes have a core size limit of 0; the settings changed 1 times during the session"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// A scan reads /proc/PID/stat only for pids the last scan did not list: the
// copy below loses its stat files after the first scan, and the second
// scan still leaves the kernel thread out and counts the same processes.
func TestCoredumpScanRemembersKernelThreads(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/coredump/apport/proc")); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Procfs = root
	p := newCoredump(cfg)
	first := p.readProcs()
	stats, _ := filepath.Glob(filepath.Join(root, "[0-9]*", "stat"))
	for _, f := range stats {
		os.Remove(f)
	}
	if len(stats) == 0 {
		t.Fatal("fixture has no stat files")
	}
	second := p.readProcs()
	if first.n != second.n || first.zero != second.zero || second.n != 2 {
		t.Errorf("first scan %+v, second %+v", first, second)
	}
}
