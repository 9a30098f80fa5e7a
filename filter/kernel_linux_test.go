package filter

import (
	"testing"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestKernelAcceptsPrograms attaches every compiled program to a UDP socket:
// the kernel's classic BPF checker (jump ranges, scratch memory stored
// before it is loaded, no division by a zero constant) must take them all.
// SO_ATTACH_FILTER on an ordinary socket needs no privileges.
func TestKernelAcceptsPrograms(t *testing.T) {
	exprs := append(append([]string{}, equivalenceExprs...), rejectsAll...)
	for _, lt := range []LinkType{LinkEthernet, LinkRaw, LinkLinuxSLL} {
		for _, expr := range exprs {
			prog, err := Compile(expr, lt, 128)
			if err != nil {
				continue // compile errors are covered elsewhere
			}
			if err := attach(prog); err != nil {
				t.Errorf("link %d %q: kernel refuses the program: %v", lt, expr, err)
			}
		}
	}
}

// attach uses a fresh socket each time: a replaced filter's memory is freed
// only after an RCU grace period and counts against optmem_max meanwhile.
func attach(prog []bpf.RawInstruction) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
}
