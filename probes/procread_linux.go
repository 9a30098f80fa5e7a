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
