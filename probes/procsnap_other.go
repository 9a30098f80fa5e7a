//go:build !linux

package probes

import "github.com/stakeout/stakeout/schema"

// ReadProcess needs Linux's /proc; elsewhere (a laptop reading a
// recording) it says so.
func ReadProcess(procRoot string, pid int) (*schema.ProcessSnapshot, error) {
	return nil, Unavailablef("process inspection reads Linux's /proc, which this system lacks")
}
