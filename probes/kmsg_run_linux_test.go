package probes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/internal/testenv"
	"github.com/stakeout/stakeout/schema"
)

// runLiveKmsg runs the real probe on /dev/kmsg until cond holds on what it
// recorded, then stops it and checks that the stop is prompt.
func runLiveKmsg(t *testing.T, act func(), cond func([]*schema.Kmsg) bool) []*schema.Kmsg {
	t.Helper()
	testenv.NeedRoot(t, "to read and write /dev/kmsg")
	p := newKmsg(DefaultConfig())
	if err := p.Check(); err != nil {
		t.Skipf("kmsg unavailable here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var c kmsgCollector
	done := make(chan error)
	go func() { done <- p.Run(ctx, c.emit) }()
	time.Sleep(300 * time.Millisecond) // past the backlog (0 here) into following
	act()
	testenv.Eventually(t, 5*time.Second, "the kernel log holds what the test waits for", func() bool { return cond(c.kmsgs()) })
	stopAt := time.Now()
	cancel()
	<-done
	if d := time.Since(stopAt); d > time.Second {
		t.Errorf("stopping took %v", d)
	}
	return c.kmsgs()
}

func TestKmsgLiveWrittenLine(t *testing.T) {
	tag := fmt.Sprintf("stakeout-test[%d]: written at %d", os.Getpid(), time.Now().UnixNano())
	ks := runLiveKmsg(t, func() {
		if err := os.WriteFile("/dev/kmsg", []byte("<3>"+tag+"\n"), 0); err != nil {
			t.Fatal(err)
		}
	}, func(ks []*schema.Kmsg) bool {
		for _, k := range ks {
			if strings.Contains(k.Text, tag) {
				return true
			}
		}
		return false
	})
	for _, k := range ks {
		if strings.Contains(k.Text, tag) {
			// Lines written from user space get facility user unless they say otherwise.
			if k.Level != "err" || k.Facility != "user" || k.Backlog || k.Seq == 0 {
				t.Errorf("written line recorded as %+v", k)
			}
		}
	}
}

// A real segfault, from a NULL read in python3's ctypes, is logged by the
// kernel (debug.exception-trace) and parses to its pid.
func TestKmsgLiveSegfault(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: nothing here can segfault cheaply without cgo")
	}
	if b, err := os.ReadFile("/proc/sys/debug/exception-trace"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("debug.exception-trace is 0: the kernel logs no segfault lines")
	}
	var pid int
	runLiveKmsg(t, func() {
		cmd := exec.Command(py, "-c", "import ctypes; ctypes.string_at(0)")
		cmd.Run() // it dies of SIGSEGV, which is the point
		pid = cmd.Process.Pid
	}, func(ks []*schema.Kmsg) bool {
		for _, k := range ks {
			if l, ok := schema.ParseKernelLine(k.Text); ok && l.Segfault != nil && l.Segfault.PID == pid {
				return true
			}
		}
		return false
	})
}
