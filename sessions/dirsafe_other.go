//go:build !unix

package sessions

import "path/filepath"

// oNoFollow: elsewhere O_EXCL alone refuses an existing name.
const oNoFollow = 0

// safeDir checks nothing where file ownership is not Unix's; stakeout's
// target is Linux.
func safeDir(dir string) (string, error) { return filepath.Abs(dir) }
