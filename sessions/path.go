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
// local user. An existing directory is left as it is.
func EnsureDir(dir string) error {
	return os.MkdirAll(dir, 0o700)
}
