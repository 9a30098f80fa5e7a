package remote

import (
	"os"
	"syscall"
)

// sysProcAttr puts ssh in a session of its own (no controlling terminal:
// a Ctrl-C in ours is not its, and BatchMode already forbids prompts) and
// has the kernel kill it if stakeout dies, however it dies (kill -9
// included): the remote side then sees its stdin end and stops.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}

// killTree kills ssh and what it started in its session (a ProxyCommand).
func killTree(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}

// selfExecutable is the running binary itself, even if its file was
// replaced or removed since it started.
func selfExecutable() (string, error) { return "/proc/self/exe", nil }
