package testenv

import "syscall"

// dieWithTest has the kernel kill a helper when the test process dies.
func dieWithTest() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
