package probes

// --proc NAME catches processes as they start, through the kernel's proc
// connector (netlink, CONFIG_PROC_EVENTS): the kernel announces every exec
// and every comm change (prctl PR_SET_NAME) as it happens, so a process
// that takes the name is seen at once instead of at the next poll of /proc.
// A process living 5 ms was caught about once in 200 by a once-a-second
// poll; this way it is caught as soon as stakeout's tracer can seize it.
//
// It cannot stop the new process, so what the process does before the
// tracer has seized it (typically a few hundred microseconds after its
// exec) is not seen. Children of a traced process need none of this: they
// are traced from their first instruction (PTRACE_O_TRACEFORK).
//
// Written against x/sys/unix rather than a netlink library: the protocol is
// one subscription message and one fixed record, and the libraries that
// speak it (vishvananda/netlink) subscribe to every event type (every fork
// and exit on the host) and read on a goroutine of their own blocked in
// recvfrom, where this asks the kernel (6.6 and later) for exec and comm
// events only and waits in the netpoller.

import (
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The proc connector's constants (include/uapi/linux/connector.h, cn_proc.h).
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procEventExec     = 0x00000002
	procEventComm     = 0x00000200
	cnMsgLen          = 20 // struct cn_msg without its data
	procEventHdrLen   = 16 // what, cpu, timestamp_ns
)

// procConn is a proc connector socket subscribed to exec and comm events.
type procConn struct {
	f *os.File
}

// openProcConn subscribes. It fails without CAP_NET_ADMIN; outside the
// initial pid and user namespaces the kernel ignores the subscription
// silently, and the periodic scan is all there is.
func openProcConn() (*procConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A bigger receive buffer rides out a burst of execs while the reader
	// is busy; overflowing it costs a full scan, not the probe.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	if err := unix.Sendto(fd, subscribeMsg(kernelFiltersProcEvents()), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &procConn{f: os.NewFile(uintptr(fd), "proc-connector")}, nil
}

// subscribeMsg is the netlink message that starts the events: a struct
// proc_input (operation and the event types wanted) on kernels that filter,
// the bare operation on older ones (which ignore a longer message).
func subscribeMsg(filter bool) []byte {
	data := binary.LittleEndian.AppendUint32(nil, procCnMcastListen)
	if filter {
		data = binary.LittleEndian.AppendUint32(data, procEventExec|procEventComm)
	}
	n := unix.NLMSG_HDRLEN + cnMsgLen + len(data)
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint16(b, unix.NLMSG_DONE)
	b = binary.LittleEndian.AppendUint16(b, 0)         // flags
	b = binary.LittleEndian.AppendUint32(b, 0)         // seq
	b = binary.LittleEndian.AppendUint32(b, 0)         // port id
	b = binary.LittleEndian.AppendUint32(b, cnIdxProc) // cn_msg.id.idx
	b = binary.LittleEndian.AppendUint32(b, cnValProc) // cn_msg.id.val
	b = binary.LittleEndian.AppendUint32(b, 0)         // seq
	b = binary.LittleEndian.AppendUint32(b, 0)         // ack
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	b = binary.LittleEndian.AppendUint16(b, 0) // flags
	return append(b, data...)
}

// kernelFiltersProcEvents: Linux 6.6 added per-listener event filters.
func kernelFiltersProcEvents() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	major, minor, ok := kernelVersion(unix.ByteSliceToString(u.Release[:]))
	return ok && (major > 6 || (major == 6 && minor >= 6))
}

func kernelVersion(release string) (major, minor int, ok bool) {
	f := strings.FieldsFunc(release, func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(f[0])
	minor, err2 := strconv.Atoi(f[1])
	return major, minor, err1 == nil && err2 == nil
}

// procEvent is an exec or a comm change: the process and, for a comm
// change, its new comm.
type procEvent struct {
	tgid int
	comm string // set for a comm change
}

// parseProcEvents reads the exec and comm events out of one datagram
// (a kernel without filters sends every event type; the rest are skipped).
func parseProcEvents(b []byte, out []procEvent) []procEvent {
	le := binary.LittleEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(le.Uint32(b))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			break
		}
		msg := b[unix.NLMSG_HDRLEN:n]
		b = b[min(len(b), (n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
		if len(msg) < cnMsgLen+procEventHdrLen+8 || le.Uint32(msg) != cnIdxProc || le.Uint32(msg[4:]) != cnValProc {
			continue
		}
		ev := msg[cnMsgLen:]
		data := ev[procEventHdrLen:]
		switch le.Uint32(ev) {
		case procEventExec:
			out = append(out, procEvent{tgid: int(le.Uint32(data[4:]))})
		case procEventComm:
			if len(data) >= 8+16 {
				out = append(out, procEvent{tgid: int(le.Uint32(data[4:])), comm: unix.ByteSliceToString(data[8:24])})
			}
		}
	}
	return out
}

// follow reads events until the connector is closed. Each process that
// takes one of names is handed to found; lost says events were dropped
// (the socket's buffer overflowed), so a full scan is due.
func (pc *procConn) follow(matches func(procEvent) bool, found func(pid int), lost func()) {
	buf := make([]byte, 64<<10)
	var evs []procEvent
	for {
		n, err := pc.f.Read(buf)
		if errors.Is(err, unix.ENOBUFS) {
			lost()
			continue
		}
		if err != nil {
			return // closed
		}
		evs = parseProcEvents(buf[:n], evs[:0])
		for _, ev := range evs {
			if matches(ev) {
				found(ev.tgid)
			}
		}
	}
}

func (pc *procConn) close() { pc.f.Close() }

// newcomers is the queue of pids the proc connector found for the tracer.
type newcomers struct {
	mu   sync.Mutex
	pids []int
}

// maxNewcomers bounds the queue; past it, pids wait for the next scan.
const maxNewcomers = 4096

func (q *newcomers) add(pid int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pids) >= maxNewcomers {
		return false
	}
	q.pids = append(q.pids, pid)
	return true
}

func (q *newcomers) take() []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := q.pids
	q.pids = nil
	return p
}

func (q *newcomers) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pids) > 0
}
