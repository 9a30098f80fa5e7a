package main

import (
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile to $STAKEOUT_CPUPROFILE and, when the
// run ends, an allocation profile to $STAKEOUT_MEMPROFILE, for benchmarks
// (bench/README.md). It returns the function that stops them.
func startProfile() func() {
	stop := []func(){}
	if path := os.Getenv("STAKEOUT_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
			} else {
				stop = append(stop, func() { pprof.StopCPUProfile(); f.Close() })
			}
		}
	}
	if path := os.Getenv("STAKEOUT_MEMPROFILE"); path != "" {
		stop = append(stop, func() {
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		})
	}
	return func() {
		for _, s := range stop {
			s()
		}
	}
}
