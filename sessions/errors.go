package sessions

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotSession is wrapped by Open for a file that is not a stakeout
	// session (wrong magic, empty, or an unreadable header).
	ErrNotSession = errors.New("not a stakeout session")
	// ErrUnsupportedVersion is wrapped by Open for a session written in a
	// format major version this build cannot read.
	ErrUnsupportedVersion = errors.New("unsupported session format version")
	// ErrStopped is wrapped by Writer methods once recording has stopped
	// (size limit, disk nearly full, or a write error); see Writer.Stopped.
	ErrStopped = errors.New("recording stopped")
)

// VersionError is why Open refuses a file written in a format major
// version this build cannot read. It matches ErrUnsupportedVersion.
type VersionError struct{ Major, Minor uint16 }

func (e *VersionError) Error() string {
	return fmt.Sprintf("format version %d.%d, this build reads %d.x", e.Major, e.Minor, FormatMajor)
}

func (e *VersionError) Is(target error) bool { return target == ErrUnsupportedVersion }

// Damage describes an unreadable part of a file: a tail cut short by a
// crash or a full disk, or a corrupted chunk. Everything before Offset is
// still delivered, and so is everything from Resume, when the reader found
// a good segment after the damage.
type Damage struct {
	At     time.Time // time of the last good event before the damage
	Bytes  int64     // unreadable bytes: to Resume, or to the end of the file
	Offset int64     // where the unreadable part begins
	// Resume is the offset of the first good segment after the damage, 0
	// when the damage runs to the end of the file. ResumeAt is the time of
	// its first event.
	Resume   int64
	ResumeAt time.Time
	// More counts further damaged places after this one.
	More int
	// Limit says the bytes were not read because they decode to more than
	// the reader allows for their size (a decompression bomb, see
	// FORMAT.md), rather than because they are corrupt.
	Limit bool
}

func (d *Damage) Error() string {
	why := ""
	if d.Limit {
		why = " (they decompress past the reader's limit)"
	}
	var s string
	if d.Resume == 0 {
		s = fmt.Sprintf("recording ends early at %s: %d bytes unreadable%s", d.At.UTC().Format("15:04:05"), d.Bytes, why)
	} else {
		s = fmt.Sprintf("recording damaged at %s: %d bytes unreadable%s, read on from %s", d.At.UTC().Format("15:04:05"), d.Bytes, why, d.ResumeAt.UTC().Format("15:04:05"))
	}
	switch {
	case d.More == 1:
		s += " (and 1 more damaged place)"
	case d.More > 1:
		s += fmt.Sprintf(" (and %d more damaged places)", d.More)
	}
	return s
}
