package probes

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestTargetTgidIsReadOncePerTask: the thread group of a signalled task is
// read from /proc/TID/status once, then reused while the task keeps the
// comm the tracepoint gives, and read again when the comm differs (the
// tid now belongs to another program) or the entry is older than
// senderTTL.
func TestTargetTgidIsReadOncePerTask(t *testing.T) {
	root := t.TempDir()
	status := func(tgid int) {
		if err := os.MkdirAll(filepath.Join(root, "4243"), 0o755); err != nil {
			t.Fatal(err)
		}
		b := fmt.Sprintf("Name:\tsh\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%d\nNgid:\t0\nPid:\t4243\n", tgid)
		if err := os.WriteFile(filepath.Join(root, "4243", "status"), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	cfg.Procfs = root
	ss := newSenders(cfg)
	status(4242)
	if g, ok := ss.targetTgid(4243, "sh"); !ok || g != 4242 {
		t.Fatalf("first read: %d %v", g, ok)
	}
	status(9999)
	if g, ok := ss.targetTgid(4243, "sh"); !ok || g != 4242 {
		t.Errorf("same task, same comm: %d %v, want the 4242 read before", g, ok)
	}
	if g, ok := ss.targetTgid(4243, "python3"); !ok || g != 9999 {
		t.Errorf("another comm: %d %v, want 9999 read again", g, ok)
	}
	e := ss.tgids[4243]
	e.readAt -= senderTTL
	ss.tgids[4243] = e
	status(7777)
	if g, ok := ss.targetTgid(4243, "python3"); !ok || g != 7777 {
		t.Errorf("after senderTTL: %d %v, want 7777 read again", g, ok)
	}
	if err := os.RemoveAll(filepath.Join(root, "4243")); err != nil {
		t.Fatal(err)
	}
	if _, ok := ss.targetTgid(4243, "perl"); ok {
		t.Error("a task that is gone has a thread group")
	}
}

// TestParseGenerateAllocatesOnlyTheSignal: host mode parses a line for
// every signal on the host; the line's fields are read in place.
func TestParseGenerateAllocatesOnlyTheSignal(t *testing.T) {
	line := "kill-4412 [000] d..1. 5.0: signal_generate: sig=15 errno=0 code=0 comm=gimli pid=812 grp=1 res=0"
	if s, _, ok := parseGenerate(line); !ok || s.PID != 812 || s.Signo != 15 || s.SenderPID != 4412 || s.Result != "delivered" {
		t.Fatalf("%+v %v", s, ok)
	}
	if n := testing.AllocsPerRun(100, func() { parseGenerate(line) }); n > 1 {
		t.Errorf("%v allocations a line, want 1 (the signal)", n)
	}
	// A pid= with nothing after it, and a space before the pid, read as
	// pid 0, as the fields have always been read.
	for _, l := range []string{
		"kill-1 [000] d..1. 5.0: signal_generate: sig=15 errno=0 code=0 comm=x pid=",
		"kill-1 [000] d..1. 5.0: signal_generate: sig=15 errno=0 code=0 comm=x pid= 812 grp=1 res=1",
	} {
		if s, _, ok := parseGenerate(l); !ok || s.PID != 0 || s.Signo != 15 {
			t.Errorf("%q: %+v %v", l, s, ok)
		}
	}
}

// TestReadCommTakesWholeNames: readComm reads a comm whole, a kernel
// worker's long name too, without its newline.
func TestReadCommTakesWholeNames(t *testing.T) {
	root := t.TempDir()
	for pid, comm := range map[string]string{"1": "systemd", "2": "kworker/u16:3-events_power_efficient", "3": "a b (c)"} {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	cfg.Procfs = root
	for pid, want := range map[int]string{1: "systemd", 2: "kworker/u16:3-events_power_efficient", 3: "a b (c)"} {
		if got, err := cfg.readComm(pid); err != nil || got != want {
			t.Errorf("pid %d: %q %v, want %q", pid, got, err, want)
		}
	}
	if _, err := cfg.readComm(4); err == nil {
		t.Error("a process that is not there has a comm")
	}
	self, err := DefaultConfig().readComm(os.Getpid())
	if want, _ := os.ReadFile("/proc/self/comm"); err != nil || self+"\n" != string(want) {
		t.Errorf("this process: %q %v, want %q", self, err, want)
	}
}
