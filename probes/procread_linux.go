package probes

import (
	"os"

	"golang.org/x/sys/unix"
)

// readProcInto reads the start of a procfs file into buf with plain
// syscalls (open, one read, close). os.Open and os.ReadFile also fstat the
// file, try to register it with the netpoller (which procfs refuses) and
// set flags: seven syscalls instead of three, and on a VM where each
// syscall is a hypervisor round trip, most of what a once-a-second /proc
// read costs. procfs files are generated whole on the first read, so one
// read of a large enough buffer is the whole file.
func readProcInto(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		return buf[:n], nil
	}
}

// readDirNames appends to names up to limit entries (all when limit <= 0)
// of a /proc directory (/proc itself, /proc/PID/fd), read with plain
// open/getdents/close into buf: os.Open would also fstat the directory,
// try to register it with the netpoller and set flags, which costs more
// than the listing on the hundreds of fd directories a scan opens.
func readDirNames(path string, limit int, buf []byte, names []string) ([]string, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return names, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	start := len(names)
	for limit <= 0 || len(names)-start < limit {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, &os.PathError{Op: "getdents", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		left := -1
		if limit > 0 {
			left = limit - (len(names) - start)
		}
		_, _, names = unix.ParseDirent(buf[:n], left, names)
	}
	return names, nil
}
