//go:build !linux

package remote

import (
	"os"
	"syscall"
)

// Only Linux runs a live session (--ssh with it); elsewhere this builds
// so the binary does.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func killTree(p *os.Process) { _ = p.Kill() }

func selfExecutable() (string, error) { return os.Executable() }
