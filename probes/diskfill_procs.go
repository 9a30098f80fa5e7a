package probes

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Parsers for the per-process files the diskfill probe reads. Reading stays
// in diskfill_writers_linux.go so these are tested on fixture text.

var errNoField = errors.New("field not found")

// parseProcIO returns wchar and write_bytes from /proc/PID/io. write_bytes
// is what this process caused to be sent to storage, counted when pages are
// dirtied, so a buffered append shows at once; but tmpfs pages are never
// counted there, so wchar (bytes passed to write(2) on any fd, sockets and
// pipes too) is what finds a process filling /dev/shm or /run. It allocates
// nothing: a pass reads hundreds of these, and a bufio.Scanner's 4 KiB
// buffer each was most of what an idle stakeout gave the collector.
func parseProcIO(b []byte) (wchar, writeBytes uint64, err error) {
	found := 0
	for line := range bytes.Lines(b) {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		wc := string(name) == "wchar"
		if !wc && string(name) != "write_bytes" {
			continue
		}
		v, ok := parseUintField(val, 10)
		if !ok {
			return 0, 0, fmt.Errorf("%s: not a number: %q", name, bytes.TrimSpace(val))
		}
		if wc {
			wchar = v
		} else {
			writeBytes = v
		}
		if found++; found == 2 {
			return wchar, writeBytes, nil
		}
	}
	return 0, 0, errNoField
}

// parseUintField parses a field's value in base 8 or 10, spaces, tabs and
// the newline around it ignored, without allocating.
func parseUintField(val []byte, base uint64) (uint64, bool) {
	val = bytes.TrimSpace(val)
	if len(val) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range val {
		d := uint64(c - '0')
		if c < '0' || d >= base || n > (1<<64-1-d)/base {
			return 0, false
		}
		n = n*base + d
	}
	return n, true
}

// fdInfo is what /proc/PID/fdinfo/N says about one open file.
type fdInfo struct {
	Flags uint64 // open(2) flags, octal in the file
	MntID int    // the mount the file was opened through (mountinfo's first field)
}

// writable reports whether the file is open for writing.
func (f fdInfo) writable() bool { return f.Flags&3 != 0 } // O_WRONLY or O_RDWR

// parseFDInfo reads the flags and mnt_id lines (mnt_id since Linux 3.15),
// without allocating.
func parseFDInfo(b []byte) (fdInfo, error) {
	var fi fdInfo
	found := 0
	for line := range bytes.Lines(b) {
		switch {
		case bytes.HasPrefix(line, []byte("flags:")):
			v, ok := parseUintField(line[6:], 8)
			if !ok {
				return fi, fmt.Errorf("flags: not an octal number: %q", bytes.TrimSpace(line[6:]))
			}
			fi.Flags = v
		case bytes.HasPrefix(line, []byte("mnt_id:")):
			v, ok := parseUintField(line[7:], 10)
			if !ok || v > math.MaxInt32 {
				return fi, fmt.Errorf("mnt_id: not a mount id: %q", bytes.TrimSpace(line[7:]))
			}
			fi.MntID = int(v)
		default:
			continue
		}
		if found++; found == 2 {
			return fi, nil
		}
	}
	return fi, errNoField
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
