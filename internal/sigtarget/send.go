package sigtarget

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SendPair sends sig to pid twice, the second at least gap after the first
// and only once the first is out of the way. Two standard signals sent
// while the first is still pending are merged by the kernel, traced or not;
// and a Go target keeps its own one-bit-per-signal mask between its handler
// and os/signal, which merges a second signal that arrives before its
// signal goroutine has run. On a loaded machine either can swallow the
// second signal through no fault of stakeout's. So SendPair waits until the
// first has left the kernel's pending set and, if ack is not nil, until ack
// returns (the target said it handled the first). It returns the real gap.
func SendPair(pid int, sig syscall.Signal, gap time.Duration, ack func() error) (time.Duration, error) {
	t0 := time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		return 0, err
	}
	for deadline := t0.Add(5 * time.Second); Pending(pid, sig); time.Sleep(50 * time.Microsecond) {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("pid %d left %v pending for 5 s", pid, sig)
		}
	}
	if ack != nil {
		if err := ack(); err != nil {
			return 0, err
		}
	}
	if wait := gap - time.Since(t0); wait > 0 {
		time.Sleep(wait)
	}
	d := time.Since(t0)
	return d, syscall.Kill(pid, sig)
}

// Pending reports whether sig is pending for pid, process-wide (ShdPnd) or
// on its main thread (SigPnd).
func Pending(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	bit := uint64(1) << (uint(sig) - 1)
	for _, l := range strings.Split(string(b), "\n") {
		for _, field := range []string{"ShdPnd:", "SigPnd:"} {
			if v, ok := strings.CutPrefix(l, field); ok {
				if mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && mask&bit != 0 {
					return true
				}
			}
		}
	}
	return false
}
