//go:build unix

package sessions

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive flock(2) on f, the lock a live Writer holds
// for as long as it records and Append holds while it appends. It retries
// for up to wait (a `stakeout note` racing another note waits its turn; a
// live recording holds on for hours). A lock that is held gives ErrLocked;
// a filesystem that has no locks (ENOLCK, EINVAL) is not an error, since
// nothing could have locked it either.
func lockFile(f *os.File, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %w", f.Name(), ErrLocked)
			}
			time.Sleep(20 * time.Millisecond)
		case errors.Is(err, syscall.ENOLCK), errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.EOPNOTSUPP):
			return nil
		default:
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
}
