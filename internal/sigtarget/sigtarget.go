// Package sigtarget is a tiny process for the signals probe's tests: test
// binaries re-execute themselves with STAKEOUT_SIGTARGET set, and Main turns
// that process into a target. Only test files import it.
package sigtarget

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

// Env selects the target's behaviour: "count", "spin", "preempt" or
// "pdeath".
const Env = "STAKEOUT_SIGTARGET"

// Environ is what a test adds to the target's environment: the mode, and no
// asynchronous preemption, whose self-sent SIGURGs would be noise here
// (except in "preempt", whose point they are).
func Environ(mode string) []string {
	if mode == "preempt" {
		return append(os.Environ(), Env+"="+mode)
	}
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
	case "preempt":
		preempt()
	case "pdeath":
		pdeath()
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

// preempt is count while its own Go runtime preempts it, as every busy Go
// program is: a goroutine computes 20 ms at a time (sysmon preempts it
// after 10 ms) and a GC every 10 ms stops it. Each preemption is a SIGURG
// the process sends itself, tens a second, using under half a core.
func preempt() {
	go func() {
		x := 0
		for {
			for end := time.Now().Add(20 * time.Millisecond); time.Now().Before(end); {
				for i := 0; i < 1000; i++ {
					x += i
				}
			}
			time.Sleep(30 * time.Millisecond)
		}
	}()
	go func() {
		for {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	count()
}

// pdeath is a supervisor that ends: it starts a child that its death is to
// kill (Pdeathsig SIGKILL, as supervisors and container tools do), with a
// few threads of its own, then exits at once. The kernel sends the child
// its SIGKILL again each time one of the exiting threads hands it on to
// the next, and drops all but the first: the child is already dying. It
// prints the child's pid.
func pdeath() {
	for range 4 {
		go func() {
			runtime.LockOSThread() // a thread of its own, to the end
			time.Sleep(time.Hour)
		}()
	}
	time.Sleep(20 * time.Millisecond)
	child := exec.Command("sleep", "30")
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(child.Process.Pid)
}
