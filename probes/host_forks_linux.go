package probes

// Which parent forks: the kernel's proc connector announces every fork
// with its parent, so a fork loop's parent is named even though its
// children live a millisecond and no scan of /proc ever sees one. The
// subscription asks for fork events only (Linux 6.6 and later filter per
// listener; an older kernel sends every event type, and the rest are
// skipped).
//
// Nothing waits on the socket: the kernel queues the announcements and the
// probe drains them once a sample. Waking a reader for each datagram cost
// more than the rest of the probe on a host forking 100 times a second
// (0.23–0.34 s of CPU per 20 s against 0.10–0.12 s without the counter).
// The socket's buffer bounds the work of a drain: in a storm that
// overflows it, the forks counted are those of the start of each interval,
// which still shows who forks.

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

const (
	procEventFork     = 0x00000001
	procCnMcastIgnore = 2
	// maxForkParents bounds the parents counted in one interval.
	maxForkParents = 4096
	// forkRcvBuf is the socket's receive buffer: a few thousand fork
	// announcements, the most one drain reads.
	forkRcvBuf = 1 << 20
)

// forkCounter counts forks per parent process (thread group) between drains.
type forkCounter struct {
	fd      int
	buf     []byte
	parents []int
	by      map[int]uint64
}

// openForkCounter subscribes to fork events. It fails without
// CAP_NET_ADMIN; outside the initial pid namespace the kernel accepts the
// subscription and sends nothing, which the probe notices.
func openForkCounter() (*forkCounter, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, forkRcvBuf)
	filter := kernelFiltersProcEvents()
	msg := subscribeMsg(filter)
	if filter {
		binary.LittleEndian.PutUint32(msg[len(msg)-4:], procEventFork)
	}
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &forkCounter{fd: fd, buf: make([]byte, 64<<10), by: map[int]uint64{}}, nil
}

// drain reads every queued announcement and returns the forks per parent
// since the previous drain (the map is reused by the next drain), and
// whether some were lost to a full buffer.
func (fc *forkCounter) drain() (map[int]uint64, bool) {
	clear(fc.by)
	lost := false
	for {
		n, _, err := unix.Recvfrom(fc.fd, fc.buf, unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ENOBUFS {
			lost = true
			continue
		}
		if err != nil || n <= 0 {
			return fc.by, lost // EAGAIN: drained
		}
		fc.parents = parseForkEvents(fc.buf[:n], fc.parents[:0])
		for _, p := range fc.parents {
			if _, ok := fc.by[p]; ok || len(fc.by) < maxForkParents {
				fc.by[p]++
			}
		}
	}
}

func (fc *forkCounter) close() {
	msg := subscribeMsg(false)
	binary.LittleEndian.PutUint32(msg[unix.NLMSG_HDRLEN+cnMsgLen:], procCnMcastIgnore)
	unix.Sendto(fc.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	unix.Close(fc.fd)
}

// parseForkEvents appends the parent (thread group) of each fork event in
// one datagram: struct proc_event's fork data is parent_pid, parent_tgid,
// child_pid, child_tgid.
func parseForkEvents(b []byte, out []int) []int {
	le := binary.LittleEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(le.Uint32(b))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			break
		}
		msg := b[unix.NLMSG_HDRLEN:n]
		b = b[min(len(b), (n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
		if len(msg) < cnMsgLen+procEventHdrLen+16 || le.Uint32(msg) != cnIdxProc || le.Uint32(msg[4:]) != cnValProc {
			continue
		}
		ev := msg[cnMsgLen:]
		if le.Uint32(ev) != procEventFork {
			continue
		}
		out = append(out, int(le.Uint32(ev[procEventHdrLen+4:])))
	}
	return out
}
