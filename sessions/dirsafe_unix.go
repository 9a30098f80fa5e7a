//go:build unix

package sessions

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// oNoFollow makes Create refuse a symlink in place of the new file itself.
const oNoFollow = syscall.O_NOFOLLOW

// safeDir resolves dir one component at a time, from the root down, and
// checks that nobody but the running user and root can change any of it:
// that every directory on the way is owned by one of them (see
// trustedUID) and writable by no one else unless it is sticky (like /tmp,
// where others may add names but not remove or rename ours), and that every
// symbolic link followed is owned by one of them too. It returns the
// directory's path with no symbolic links in it. Since no one else can
// rename, remove or replace anything on that path, the file Create makes
// there stays the file it made.
func safeDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	cur := "/"
	if err := checkDirInfo(cur); err != nil {
		return "", err
	}
	rest := strings.Split(abs, "/")
	for links := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur) // cur has no links: its parent is real
			continue
		}
		next := filepath.Join(cur, name)
		st, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			if err := checkDirInfo(next); err != nil {
				return "", err
			}
			cur = next
			continue
		}
		if uid := ownerOf(st); !trustedUID(uid) {
			return "", &UnsafeDirError{Dir: next, Why: fmt.Sprintf("is a symbolic link owned by uid %d, who could point it anywhere", uid)}
		}
		if links++; links > 40 {
			return "", &fs.PathError{Op: "resolve", Path: dir, Err: syscall.ELOOP}
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// checkDirInfo checks one directory with no symbolic link in its path.
func checkDirInfo(path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return &fs.PathError{Op: "record", Path: path, Err: syscall.ENOTDIR}
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	var bad []string
	if !trustedUID(int(sys.Uid)) {
		bad = append(bad, fmt.Sprintf("owned by uid %d", sys.Uid))
	}
	if st.Mode()&fs.ModeSticky == 0 {
		// A group that is the running user's own (or root's, for root) adds
		// no one untrusted; a distribution's user-private groups make such
		// directories 0775.
		switch {
		case st.Mode()&0o002 != 0:
			bad = append(bad, "writable by others")
		case st.Mode()&0o020 != 0 && int(sys.Gid) != os.Getegid():
			bad = append(bad, fmt.Sprintf("writable by group %d", sys.Gid))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &UnsafeDirError{Dir: path, Why: "is " + strings.Join(bad, " and ") + ", who could delete or replace the recording"}
}

func ownerOf(st fs.FileInfo) int {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid)
	}
	return os.Geteuid()
}

// trustedUID: the running user, root, and under sudo the user who ran sudo
// (already trusted with root; `sudo stakeout -o ~/x.stk` records into that
// user's home).
func trustedUID(uid int) bool {
	euid := os.Geteuid()
	if uid == euid || uid == 0 {
		return true
	}
	if euid == 0 {
		if s, err := strconv.Atoi(os.Getenv("SUDO_UID")); err == nil && s == uid && s > 0 {
			return true
		}
	}
	return false
}
