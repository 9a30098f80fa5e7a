package probes

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// readyWaiter waits for a non-blocking fd (/dev/kmsg, a tracefs
// trace_pipe) to become readable in Go's netpoller. A blocking poll(2) or a
// sleep-and-retry loop instead wakes the process on a timer while nothing
// happens, and a poll(2) that outlasts a sysmon tick makes the runtime hand
// its P to another thread and put sysmon back on 20 µs sleeps: on an idle
// host that was most of stakeout's own CPU.
//
// The waiter owns the fd. Reads stay plain unix.Read calls on fd (never
// f.Fd(), which would switch the fd to blocking mode).
type readyWaiter struct {
	fd     int
	f      *os.File
	rc     syscall.RawConn
	poller bool // false: the fd cannot be in epoll; wait falls back to poll(2)
}

func newReadyWaiter(fd int, name string) *readyWaiter {
	w := &readyWaiter{fd: fd, f: os.NewFile(uintptr(fd), name)}
	// SetReadDeadline fails when os.NewFile could not register the fd.
	if err := w.f.SetReadDeadline(time.Time{}); err == nil {
		if rc, err := w.f.SyscallConn(); err == nil {
			w.rc, w.poller = rc, true
		}
	}
	return w
}

// wait returns once the fd may be readable, or interrupt was called, or,
// without the netpoller, after at most fallback. Spurious returns are
// fine: the caller reads, gets EAGAIN, and waits again.
func (w *readyWaiter) wait(fallback time.Duration) {
	if !w.poller {
		fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
		_, _ = unix.Poll(fds, int(fallback.Milliseconds()))
		return
	}
	first := true
	err := w.rc.Read(func(uintptr) bool {
		// The first call says "not yet" so that Read parks in the netpoller;
		// it calls again once epoll reports the fd readable.
		if first {
			first = false
			return false
		}
		return true
	})
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		time.Sleep(fallback) // closed under us, or the poller gave up on it
	}
}

// interrupt makes the current and every later wait return at once: it is
// the stop signal, called from context.AfterFunc. Without the netpoller the
// caller's poll(2) ends within its fallback anyway.
func (w *readyWaiter) interrupt() {
	if w.poller {
		w.f.SetReadDeadline(time.Now())
	}
}

func (w *readyWaiter) close() { w.f.Close() }
