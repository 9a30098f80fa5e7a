// Command sigbench is the target of bench/signals.sh. It waits a moment so a
// tracer can attach, then measures itself:
//
//	sigbench loop N    time N getppid() calls (the syscall-heavy load that
//	                   PTRACE_SYSCALL-based tracers such as strace slow down)
//	sigbench ping N    N SIGUSR1s to itself, one at a time: the time from
//	                   kill() until the handler has run, per signal
//	sigbench count N   a heartbeat receiver: prints "ready", counts the
//	                   SIGUSR1s it handles until SIGTERM, then prints the
//	                   count (N is what the caller means to send)
//	sigbench send N    sends N SIGUSR1s to $SIGBENCH_TARGET on a 1 ms tick,
//	                   without waiting for them to be handled, as a
//	                   heartbeat does
//
// Apart from count's "ready", it prints one line of results and nothing else.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sigbench loop|ping|count|send N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "sigbench: N must be a positive number")
		os.Exit(2)
	}
	// Time for the tracer under test to attach; the caller starts it after
	// reading our pid and waits for it to be attached.
	delay, _ := time.ParseDuration(os.Getenv("SIGBENCH_DELAY"))
	time.Sleep(delay)
	switch os.Args[1] {
	case "loop":
		start := time.Now()
		for i := 0; i < n; i++ {
			syscall.Getppid()
		}
		el := time.Since(start)
		fmt.Printf("loop_ns_per_call %.1f total_s %.3f\n", float64(el.Nanoseconds())/float64(n), el.Seconds())
	case "ping":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR1)
		lat := make([]time.Duration, n)
		pid := os.Getpid()
		for i := range lat {
			start := time.Now()
			syscall.Kill(pid, syscall.SIGUSR1)
			<-c
			lat[i] = time.Since(start)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
		fmt.Printf("ping_us_p50 %.1f p99 %.1f\n", us(lat[n/2]), us(lat[n*99/100]))
	case "count":
		c := make(chan os.Signal, 4096)
		signal.Notify(c, syscall.SIGUSR1, syscall.SIGTERM)
		fmt.Println("ready")
		got := 0
		for s := range c {
			if s == syscall.SIGTERM {
				break
			}
			got++
		}
		fmt.Printf("beats_counted %d of %d\n", got, n)
	case "send":
		pid, err := strconv.Atoi(os.Getenv("SIGBENCH_TARGET"))
		if err != nil || pid <= 0 {
			fmt.Fprintln(os.Stderr, "sigbench send: set SIGBENCH_TARGET to the receiver's pid")
			os.Exit(2)
		}
		tick := time.NewTicker(time.Millisecond)
		start := time.Now()
		for i := 0; i < n; i++ {
			<-tick.C
			if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
				fmt.Fprintln(os.Stderr, "sigbench send:", err)
				os.Exit(1)
			}
		}
		el := time.Since(start)
		fmt.Printf("beats_sent %d rate_hz %.0f\n", n, float64(n)/el.Seconds())
	default:
		fmt.Fprintln(os.Stderr, "usage: sigbench loop|ping|count|send N")
		os.Exit(2)
	}
}
