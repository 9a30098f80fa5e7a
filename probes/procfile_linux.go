package probes

import (
	"os"

	"golang.org/x/sys/unix"
)

// procFileMax bounds what procFile reads of one file.
const procFileMax = 4 << 20

// procFile reads a file a probe samples every interval (/proc/diskstats,
// the conntrack sysctls, /proc/modules). On procfs it keeps the file open
// and re-reads it from offset 0 with pread, which procfs regenerates on
// every read from the start (procps does the same for /proc/stat): one or
// two syscalls a sample instead of the seven of os.ReadFile (open, fstat,
// an epoll_ctl that procfs refuses, two fcntl, read, close). On this PVM
// host each syscall is a hypervisor round trip, so that was much of what
// an idle stakeout cost. Anywhere else (a --procfs fixture tree, whose
// files tests replace by rename) it opens the file afresh each time, with
// plain syscalls. The buffer is reused and grows to fit.
//
// Not safe for concurrent use; each probe owns its own.
type procFile struct {
	path string
	fd   int // kept open on procfs; -1 otherwise
	buf  []byte
}

func newProcFile(path string) *procFile { return &procFile{path: path, fd: -1} }

// read returns the whole file; the slice is valid until the next read.
func (f *procFile) read() ([]byte, error) {
	if f.fd >= 0 {
		if b, err := f.readAt(f.fd); err == nil {
			return b, nil
		}
		// The file went away (a module unloaded) or broke: open it again,
		// which gives the caller the real reason (fs.ErrNotExist, …).
		f.close()
	}
	fd, err := unix.Open(f.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: f.path, Err: err}
	}
	b, err := f.readAt(fd)
	var st unix.Statfs_t
	if err == nil && unix.Fstatfs(fd, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC {
		f.fd = fd
		return b, nil
	}
	unix.Close(fd)
	return b, err
}

func (f *procFile) readAt(fd int) ([]byte, error) {
	if f.buf == nil {
		f.buf = make([]byte, 4096)
	}
	n := 0
	for {
		if n == len(f.buf) {
			if len(f.buf) >= procFileMax {
				return f.buf[:n], nil
			}
			f.buf = append(f.buf, make([]byte, len(f.buf))...)
		}
		m, err := unix.Pread(fd, f.buf[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: f.path, Err: err}
		}
		if m == 0 {
			return f.buf[:n], nil
		}
		n += m
	}
}

func (f *procFile) close() {
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}
