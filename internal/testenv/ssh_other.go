//go:build !linux

package testenv

import "syscall"

func dieWithTest() *syscall.SysProcAttr { return nil }
