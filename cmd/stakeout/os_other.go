//go:build !linux

package main

// liveSupported: the probes are compiled out on this system; the readers
// of recordings (replay, report, events, handoff, extract, note, export)
// are the same code as on Linux.
const liveSupported = false
