package sessions

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultPath names a session file dir/HOST-20261123T040000Z.stk. The host
// part is reduced to characters safe in a file name, since hostnames on a
// suspect machine are not to be trusted.
func DefaultPath(dir, host string, t time.Time) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		case r == '.':
			return '.'
		}
		return '_'
	}, host)
	safe = strings.TrimLeft(safe, ".")
	if safe == "" {
		safe = "host"
	}
	return filepath.Join(dir, safe+"-"+t.UTC().Format("20060102T150405Z")+".stk")
}

// EnsureDir creates dir (and parents) with mode 0700 if missing: recordings
// hold process names, command lines and addresses, which are not for every
// local user. Then, made now or long before, it must be safe to record
// into: a directory someone else made beforehand (another user's
// /var/tmp/stakeout, mode 0777) is refused with an *UnsafeDirError, as is
// a symbolic link someone else planted on the way.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_, err := safeDir(dir)
	return err
}

// UnsafeDirError is why Create and EnsureDir refuse a directory: someone
// other than the running user and root could remove, rename or replace
// what is recorded there (see Create).
type UnsafeDirError struct {
	Dir string // the directory or symbolic link at fault
	Why string // "is owned by uid 65534 and writable by others, who could …"
}

func (e *UnsafeDirError) Error() string { return e.Dir + " " + e.Why }
