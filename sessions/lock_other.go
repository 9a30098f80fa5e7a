//go:build !unix

package sessions

import (
	"os"
	"time"
)

// lockFile is a no-op where flock(2) does not exist.
func lockFile(*os.File, time.Duration) error { return nil }
