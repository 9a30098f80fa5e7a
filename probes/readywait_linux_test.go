package probes

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stakeout/stakeout/internal/testenv"
)

// waitReturns runs w.wait with no fallback tick to rely on (an hour) and
// says whether it returned within a generous bound.
func waitReturns(w *readyWaiter) bool {
	done := make(chan struct{})
	go func() { w.wait(time.Hour); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

// A waiter on a pipe parks in the netpoller: it returns when data is
// written, not on a timer, and interrupt ends a wait on an idle fd.
func TestReadyWaiterWakesOnDataAndInterrupt(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	w := newReadyWaiter(p[0], "pipe")
	defer w.close()
	if !w.poller {
		t.Fatal("a non-blocking pipe is not in the netpoller")
	}
	buf := make([]byte, 16)
	if _, err := unix.Read(w.fd, buf); err != unix.EAGAIN {
		t.Fatalf("empty pipe read: %v, want EAGAIN", err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // let the wait park first
		unix.Write(p[1], []byte("x"))
	}()
	if !waitReturns(w) {
		t.Fatal("wait did not return after a write")
	}
	if n, err := unix.Read(w.fd, buf); err != nil || n != 1 {
		t.Fatalf("read after wake: %d, %v", n, err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		w.interrupt()
	}()
	if !waitReturns(w) {
		t.Fatal("interrupt did not end the wait")
	}
	if !waitReturns(w) {
		t.Fatal("a wait after interrupt did not return at once")
	}
}

// /dev/kmsg supports poll, so the kmsg probe waits in the netpoller rather
// than waking every kmsgPoll.
func TestReadyWaiterKmsgInNetpoller(t *testing.T) {
	testenv.NeedRoot(t, "to read /dev/kmsg")
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no /dev/kmsg here: %v", err)
	}
	w := newReadyWaiter(fd, "/dev/kmsg")
	defer w.close()
	if !w.poller {
		t.Fatal("/dev/kmsg is not in the netpoller")
	}
}

// A regular file cannot be in epoll: the waiter says so and falls back to
// poll(2), which returns at once for a regular file.
func TestReadyWaiterFallsBackOnRegularFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fd, err := unix.Open(f.Name(), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := newReadyWaiter(fd, f.Name())
	defer w.close()
	if w.poller {
		t.Fatal("a regular file claims to be in the netpoller")
	}
	if !waitReturns(w) {
		t.Fatal("fallback wait on a regular file did not return")
	}
}
