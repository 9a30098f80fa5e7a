package sessions

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stakeout/stakeout/event"
)

// ErrLocked is wrapped by Append when another process holds the file: a
// live stakeout still recording it, or another append in progress.
var ErrLocked = errors.New("file is being written by another stakeout")

// appendHeadroom is how far past its current size Append lets a file grow
// when WriterOptions.MaxBytes is zero: a file that stopped at the 256 MiB
// limit still takes notes.
const appendHeadroom = 16 << 20

// appendLockWait (a variable for tests) is how long Append waits for another append (a note from
// a second shell) to finish before it reports ErrLocked.
var appendLockWait = 2 * time.Second

// Append re-opens an existing session file to add events (notes, from the
// shell or a replay) and returns a Writer positioned after its last chunk.
// Existing bytes are never rewritten: the new events go in a new segment
// after the old trailer, and Close writes a new index listing every
// segment, old and new, then a new trailer (format 1.1, see FORMAT.md).
//
// A file that was not closed (killed, crashed) is first closed, with an
// index and trailer after its last valid chunk. A torn tail, a last chunk
// cut short, is truncated before that;
// any other damage (a chunk that is whole but fails its CRC) is refused, as
// appending after it would hide events from every reader.
//
// The file is locked with flock(2) for as long as the Writer is open, and a
// live Writer holds the same lock: appending to a file still being recorded
// gives an error wrapping ErrLocked, never a corrupt file. The free-space
// floor applies as for Create; MaxBytes 0 means the larger of
// DefaultMaxBytes and the current size plus 16 MiB.
func Append(path string, o WriterOptions) (*Writer, error) {
	if o.FreeSpace == nil {
		o.FreeSpace = statfsFree
	}
	if o.FlushEvery == 0 {
		o.FlushEvery = defaultFlushEvery
	}
	if o.PauseHint == "" {
		o.PauseHint = DefaultPauseHint
	}
	// O_APPEND as in Create: after a failed write is cut back, the next one
	// lands at the new end.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	w, err := appendTo(f, path, o)
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func appendTo(f *os.File, path string, o WriterOptions) (*Writer, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file: %w", path, ErrNotSession)
	}
	if err := lockFile(f, appendLockWait); err != nil {
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%s: %w (a live recording? notes can be added once it stops)", path, ErrLocked)
		}
		return nil, err
	}
	// Sized after the lock: a writer that just finished may have grown it.
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	r, err := newReader(f, st.Size(), path)
	if err != nil {
		return nil, err
	}
	end := st.Size()
	if d := r.Damage(); d != nil {
		// Damage the reader read past (a good segment follows it) is no
		// torn tail, whatever its length field says.
		if d.Resume != 0 || d.More > 0 || !tornTail(f, d.Offset, end) {
			return nil, fmt.Errorf("%s: damaged at byte %d (%d bytes unreadable), not appending after it: %w", path, d.Offset, d.Bytes, ErrDamagedFile)
		}
		// Only the cut-short last chunk goes; every whole chunk stays.
		if err := f.Truncate(d.Offset); err != nil {
			return nil, fmt.Errorf("%s: cutting off its torn tail: %w", path, err)
		}
		end = d.Offset
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = max(DefaultMaxBytes, end+appendHeadroom)
	}
	if reason := diskFloorReason(o.FreeSpace, path, 0); reason != "" {
		return nil, fmt.Errorf("sessions: not appending to %s: %w: %s", path, ErrStopped, reason)
	}
	if !r.closed {
		// Close it first, as its writer would have: everything after a
		// file's first trailer is then appended data (see appended.go).
		tail := indexAndTrailer(r.segs, end)
		if len(tail) > maxChunkPayload {
			return nil, fmt.Errorf("%s: too many segments to index, not appending", path)
		}
		if n, err := f.Write(tail); err != nil {
			if n > 0 {
				f.Truncate(end)
			}
			return nil, err
		}
		end += int64(len(tail))
	}
	enc, err := newSegmentEncoder()
	if err != nil {
		return nil, err
	}
	w := &Writer{
		f: f, path: path, opt: o, size: end, framer: framer{enc: enc}, done: make(chan struct{}),
		segs:     append([]indexEntry(nil), r.segs...),
		lastTime: r.End(),
	}
	if o.FlushEvery > 0 {
		w.wg.Add(1)
		go w.flushLoop(o.FlushEvery)
	}
	return w, nil
}

// ErrDamagedFile is wrapped by Append for a file whose damage is more than a
// torn tail.
var ErrDamagedFile = errors.New("session file is damaged")

// tornTail reports whether the bytes from off to end are one chunk cut
// short, as a crash or a full disk leaves it: the start of a chunk header
// (or a whole header whose payload runs past the end). A chunk that is all
// there but fails its CRC is corruption, not a torn write.
func tornTail(ra io.ReaderAt, off, end int64) bool {
	n := end - off
	if n <= 0 || n > chunkHeaderSize+maxChunkPayload {
		return false
	}
	var head [chunkHeaderSize]byte
	got, err := ra.ReadAt(head[:min(n, chunkHeaderSize)], off)
	if int64(got) != min(n, chunkHeaderSize) && err != nil {
		return false
	}
	if n < chunkHeaderSize {
		// A prefix of a header: what there is must match the magic.
		m := min(int(n), len(chunkMagic))
		return string(head[:m]) == chunkMagic[:m]
	}
	h, err := parseChunkHead(head[:])
	return err == nil && h.size() > n
}

// AppendEvents appends evs to the recording at path and closes it again:
// what adding a note from the shell or from a replay needs.
func AppendEvents(path string, evs ...event.Event) error {
	w, err := Append(path, WriterOptions{FlushEvery: -1})
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}
