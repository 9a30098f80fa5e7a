package probes

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Parsers for the per-process files the diskfill probe reads. Reading stays
// in diskfill_writers_linux.go so these are tested on fixture text.

var errNoField = errors.New("field not found")

// parseProcIO returns wchar and write_bytes from /proc/PID/io. write_bytes
// is what this process caused to be sent to storage, counted when pages are
// dirtied, so a buffered append shows at once; but tmpfs pages are never
// counted there, so wchar (bytes passed to write(2) on any fd, sockets and
// pipes too) is what finds a process filling /dev/shm or /run.
func parseProcIO(r io.Reader) (wchar, writeBytes uint64, err error) {
	sc := bufio.NewScanner(r)
	found := 0
	for sc.Scan() && found < 2 {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "wchar" && name != "write_bytes") {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if name == "wchar" {
			wchar = v
		} else {
			writeBytes = v
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if found < 2 {
		return 0, 0, errNoField
	}
	return wchar, writeBytes, nil
}

// fdInfo is what /proc/PID/fdinfo/N says about one open file.
type fdInfo struct {
	Flags uint64 // open(2) flags, octal in the file
	MntID int    // the mount the file was opened through (mountinfo's first field)
}

// writable reports whether the file is open for writing.
func (f fdInfo) writable() bool { return f.Flags&3 != 0 } // O_WRONLY or O_RDWR

// parseFDInfo reads the flags and mnt_id lines (mnt_id since Linux 3.15).
func parseFDInfo(r io.Reader) (fdInfo, error) {
	var fi fdInfo
	found := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() && found < 2 {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("flags:")):
			v, err := strconv.ParseUint(string(bytes.TrimSpace(line[6:])), 8, 64)
			if err != nil {
				return fi, err
			}
			fi.Flags = v
			found++
		case bytes.HasPrefix(line, []byte("mnt_id:")):
			v, err := strconv.Atoi(string(bytes.TrimSpace(line[7:])))
			if err != nil {
				return fi, err
			}
			fi.MntID = v
			found++
		}
	}
	if found < 2 {
		return fi, errNoField
	}
	return fi, sc.Err()
}

// deletedSuffix is what readlink of /proc/PID/fd/N ends in once the file
// was unlinked.
const deletedSuffix = " (deleted)"

// deletedPath returns the unlinked file's old path, if link names one.
func deletedPath(link string) (string, bool) {
	if !strings.HasPrefix(link, "/") {
		return "", false
	}
	return strings.CutSuffix(link, deletedSuffix)
}
