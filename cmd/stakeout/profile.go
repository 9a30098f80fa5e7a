package main

import (
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile to $STAKEOUT_CPUPROFILE, for benchmarks
// (bench/README.md). It returns the function that stops it.
func startProfile() func() {
	path := os.Getenv("STAKEOUT_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
