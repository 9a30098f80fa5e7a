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

// Damage describes an unreadable tail: a file cut short by a crash or a full
// disk, or a corrupted chunk. Everything before Offset is still delivered.
type Damage struct {
	At     time.Time // time of the last good event
	Bytes  int64     // bytes from Offset to the end of the file
	Offset int64     // where the unreadable part begins
}

func (d *Damage) Error() string {
	return fmt.Sprintf("recording ends early at %s: %d bytes unreadable", d.At.UTC().Format("15:04:05"), d.Bytes)
}
