//go:build !linux

package sessions

import "errors"

// statfsFree is only implemented on Linux, stakeout's target; elsewhere the
// free-space floor is not enforced and MaxBytes alone bounds the file.
func statfsFree(string) (avail, size uint64, err error) {
	return 0, 0, errors.New("free space check not supported on this OS")
}
