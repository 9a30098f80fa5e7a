// Package sigtarget is a tiny process for the signals probe's tests: test
// binaries re-execute themselves with STAKEOUT_SIGTARGET set, and Main turns
// that process into a target. Only test files import it.
package sigtarget

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Env selects the target's behaviour: "count" or "spin".
const Env = "STAKEOUT_SIGTARGET"

// Environ is what a test adds to the target's environment: the mode, and no
// asynchronous preemption, whose self-sent SIGURGs would be noise here.
func Environ(mode string) []string {
	return append(os.Environ(), Env+"="+mode, "GODEBUG=asyncpreemptoff=1")
}

// MaybeRun runs the target and exits if this process is one.
func MaybeRun() {
	switch os.Getenv(Env) {
	case "":
		return
	case "count":
		count()
	case "spin":
		spin()
	}
	os.Exit(0)
}

// count prints "ready", then one line per SIGHUP, SIGUSR1 or SIGUSR2 it
// handles ("HUP 1", "USR1 7"): the target's own count, which tests compare
// with what was sent. SIGTERM ends it.
func count() {
	c := make(chan os.Signal, 64)
	signal.Notify(c, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	n := map[os.Signal]int{}
	for s := range c {
		if s == syscall.SIGTERM {
			return
		}
		n[s]++
		name := map[os.Signal]string{syscall.SIGHUP: "HUP", syscall.SIGUSR1: "USR1", syscall.SIGUSR2: "USR2"}[s]
		fmt.Fprintln(out, name, n[s])
		out.Flush()
	}
}

// spin calls getppid in a tight loop, the syscall-heavy load strace slows
// down; it prints the calls per second it managed every second.
func spin() {
	for {
		syscall.Getppid()
	}
}
