package probes

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
)

func TestDecodePageFault(t *testing.T) {
	for _, c := range []struct {
		code, want, access string
	}{
		{"4", "user-mode read from an unmapped page", "read"},
		{"6", "user-mode write to an unmapped page", "write"},
		{"5", "user-mode read from a page that forbids it (protection violation)", "read"},
		{"7", "user-mode write to a page that forbids it (protection violation)", "write"},
		{"14", "user-mode instruction fetch from an unmapped page", "exec"}, // hex: 0x14
		{"15", "user-mode instruction fetch from a page that forbids it (protection violation)", "exec"},
		{"2", "kernel-mode write to an unmapped page", "write"},
		{"d", "user-mode read from a page that forbids it (protection violation); a reserved bit set in a page-table entry", "read"},
		{"25", "user-mode read from a page that forbids it (protection violation); blocked by a memory protection key", "read"},
	} {
		pf, ok := schema.DecodePageFault(c.code)
		if !ok || pf.String() != c.want || pf.Access != c.access {
			t.Errorf("error %s: %q %s %v, want %q %s", c.code, pf, pf.Access, ok, c.want, c.access)
		}
	}
	for _, bad := range []string{"", "zz", "10000", "-4", "123456789"} {
		if pf, ok := schema.DecodePageFault(bad); ok {
			t.Errorf("%q decoded as %q", bad, pf)
		}
	}
	// Both formats the kernel has logged (see TestParseSegfaultLines) carry the code.
	for file, want := range map[string]string{
		"segfault-haproxy.log": "user-mode read from an unmapped page",
		"segfault-modern.log":  "user-mode read from an unmapped page",
		"segfault-nomap.log":   "user-mode instruction fetch from an unmapped page",
	} {
		l, _ := schema.ParseKernelLine(fixtureLines(t, file)[0])
		if pf, ok := schema.DecodePageFault(l.Segfault.Error); !ok || pf.String() != want {
			t.Errorf("%s: %q, want %q", file, pf, want)
		}
	}
}

// TestKmsgReadsCrashFactsWithALiveSegfault: on a segfault line read live,
// the probe reads the process's core limit and the core settings at once
// (the haproxy story's tree: limit 0, core_pattern piping to an apport that
// is not in init's root); a pid that is gone, or now another process, is
// said to be gone. Lines from the backlog get nothing.
func TestKmsgReadsCrashFactsWithALiveSegfault(t *testing.T) {
	root := testenv.CopyTree(t, "testdata/coredump/apport/proc")
	os.MkdirAll(filepath.Join(root, "1", "root"), 0o755) // init's root, without apport
	dir := t.TempDir()
	path := filepath.Join(dir, "kmsg")
	seg := func(comm, pid string) string {
		return "6,700,5204000000,-;" + comm + "[" + pid + "]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in ld-musl-x86_64.so.1[7fdb03fe2000+87000]\n"
	}
	os.WriteFile(path, []byte(seg("haproxy", "610")), 0o644) // logged before: backlog
	cfg := DefaultConfig()
	cfg.Procfs = root
	cfg.Kmsg = schema.KmsgConfig{Dev: dir, Backlog: time.Hour}
	p := newKmsg(cfg)
	p.boot = func() time.Time { return time.Now().Add(-5204 * time.Second) }
	ctx, cancel := context.WithCancel(context.Background())
	var c kmsgCollector
	done := make(chan error)
	go func() { done <- p.Run(ctx, c.emit) }()
	testenv.Eventually(t, 5*time.Second, "the first kernel line", func() bool { return len(c.kmsgs()) >= 1 })
	time.Sleep(100 * time.Millisecond) // caught up: what follows is live
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(seg("haproxy", "610") + seg("haproxy", "611") + seg("nginx", "610"))
	f.Close()
	testenv.Eventually(t, 5*time.Second, "four kernel lines", func() bool { return len(c.kmsgs()) >= 4 })
	cancel()
	<-done
	ks := c.kmsgs()
	if ks[0].Crash != nil || !ks[0].Backlog {
		t.Errorf("backlog line: %+v", ks[0])
	}
	cf := ks[1].Crash
	if cf == nil || cf.Gone || cf.CoreSoft == nil || *cf.CoreSoft != 0 || *cf.CoreHard != -1 ||
		cf.CorePattern != "|/usr/share/apport/apport %p %s %c %d %P %E" || cf.PipeTarget != "/usr/share/apport/apport" ||
		cf.PipeTargetExists == nil || *cf.PipeTargetExists || cf.SuidDumpable != 2 {
		t.Errorf("live line of pid 610: %+v", cf)
	}
	for i, what := range []string{"", "", "a pid with no process", "pid 610 under another comm"} {
		if i < 2 {
			continue
		}
		if cf := ks[i].Crash; cf == nil || !cf.Gone || cf.CoreSoft != nil || cf.CorePattern == "" {
			t.Errorf("%s: %+v", what, cf)
		}
	}
}
