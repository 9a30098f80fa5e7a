//go:build !linux

package testenv

import (
	"syscall"
	"testing"
)

func dieWithTest() *syscall.SysProcAttr { return nil }

func lockFile(testing.TB, string) (unlock func()) { return func() {} }
