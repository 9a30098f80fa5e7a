package testenv

import (
	"os"
	"syscall"
	"testing"
)

// dieWithTest has the kernel kill a helper when the test process dies.
func dieWithTest() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// lockFile takes an exclusive flock on path, shared by every test process
// on the machine, and returns its release. The kernel drops it if the
// test dies.
func lockFile(t testing.TB, path string) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("lock %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lock %s: %v", path, err)
	}
	return func() { f.Close() }
}
