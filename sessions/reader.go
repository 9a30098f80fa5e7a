package sessions

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/stakeout/stakeout/event"
)

// Reader reads a session file. Open reads only the header, trailer and
// index of a closed file; for a file that was not closed (crash, kill, full
// disk) it rebuilds the index by walking the chunks and checking their CRCs,
// without decompressing anything. Methods are safe for concurrent use, and
// several Iters may run at once.
type Reader struct {
	closer    io.Closer
	ra        io.ReaderAt
	size      int64
	name      string
	hdr       Header
	dataStart int64 // first chunk after the header
	dataEnd   int64 // where event chunks end: the index, the damage, or EOF
	segs      []indexEntry
	start     time.Time
	end       time.Time
	closed    bool  // ends with a valid trailer and index
	lateFrom  int64 // first segment appended after a close (see appended.go), or 0

	lateOnce sync.Once
	late     []event.Event
	lateErr  error
	lateOK   bool

	windowOnce sync.Once
	mainEnd    int64   // where the file-order data an Iter reads ends (see window.go)
	tailMin    []int64 // earliest event time of segments i.. before mainEnd

	mu      sync.Mutex
	damages []Damage // sorted by offset, at most maxDamages

	resyncBudget resyncBudget
}

// maxDamages bounds the damaged places a Reader remembers.
const maxDamages = 64

// Open opens a session file. A file that is not a session gives an error
// wrapping ErrNotSession; a missing file gives the os error.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s: not a regular file: %w", path, ErrNotSession)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := newReader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

func newReader(ra io.ReaderAt, size int64, name string) (*Reader, error) {
	r := &Reader{ra: ra, size: size, name: name}
	pre := make([]byte, preambleSize)
	n, err := ra.ReadAt(pre, 0)
	if n < len(fileMagic) || string(pre[:len(fileMagic)]) != fileMagic {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if size == 0 {
			return nil, fmt.Errorf("%s: empty file: %w", name, ErrNotSession)
		}
		return nil, fmt.Errorf("%s: no stakeout signature: %w", name, ErrNotSession)
	}
	if n < preambleSize {
		return nil, fmt.Errorf("%s: cut short inside its header: %w", name, ErrNotSession)
	}
	major, minor := binary.LittleEndian.Uint16(pre[8:]), binary.LittleEndian.Uint16(pre[10:])
	if major != FormatMajor {
		return nil, fmt.Errorf("%s: %w", name, &VersionError{Major: major, Minor: minor})
	}
	cs := newChunkStream(ra, int64(preambleSize), size)
	h, p, err := cs.next()
	if err != nil && !errors.Is(err, errDamaged) && err != io.EOF {
		return nil, err
	}
	if err != nil || h.Type != chunkHeader || h.Len > maxHeaderPayload {
		return nil, fmt.Errorf("%s: header unreadable (cut short or corrupt): %w", name, ErrNotSession)
	}
	if err := json.Unmarshal(p, &r.hdr); err != nil {
		return nil, fmt.Errorf("%s: header is not valid JSON: %w", name, ErrNotSession)
	}
	r.dataStart = cs.off
	if !r.readIndex() {
		if err := r.walk(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	r.span()
	for i := range r.damages {
		d := &r.damages[i]
		d.At = r.maxBefore(d.Offset)
		d.ResumeAt = r.minFrom(d.Resume)
	}
	return r, nil
}

// readIndex loads the segment table of a cleanly closed file via its
// trailer. It reports false when there is no usable trailer or index.
func (r *Reader) readIndex() bool {
	trailerAt := r.size - chunkHeaderSize - trailerPayload
	if trailerAt < r.dataStart {
		return false
	}
	h, p, err := newChunkStream(r.ra, trailerAt, r.size).next()
	if err != nil || h.Type != chunkTrailer || h.Len != trailerPayload {
		return false
	}
	idxAt := int64(binary.LittleEndian.Uint64(p))
	if idxAt < r.dataStart || idxAt >= trailerAt {
		return false
	}
	cs := newChunkStream(r.ra, idxAt, trailerAt)
	h, p, err = cs.next()
	if err != nil || h.Type != chunkIndex || cs.off != trailerAt {
		return false
	}
	segs, ok := parseIndex(p, r.dataStart, idxAt)
	if !ok {
		return false
	}
	r.segs, r.dataEnd, r.closed = segs, idxAt, true
	r.findAppended()
	return true
}

// walk rebuilds the segment table from the chunk headers. A damaged chunk
// becomes a Damage; the walk goes on from the next good segment start
// after it, if there is one, else the data ends there.
func (r *Reader) walk() error {
	cs := newChunkStream(r.ra, r.dataStart, r.size)
	closedOnce := false
	for {
		at := cs.off
		h, _, err := cs.next()
		if err == io.EOF {
			r.dataEnd = r.size
			return nil
		}
		if errors.Is(err, errDamaged) {
			next, ok := r.nextSegStart(at+1, r.size)
			if !ok {
				r.dataEnd = at
				r.addDamage(Damage{Offset: at, Bytes: r.size - at})
				return nil
			}
			r.addDamage(Damage{Offset: at, Bytes: next - at, Resume: next})
			cs = newChunkStream(r.ra, next, r.size)
			continue
		}
		if err != nil {
			return err
		}
		switch h.Type {
		case chunkSegStart:
			r.segs = append(r.segs, indexEntry{Off: at, Min: h.Min, Max: h.Max, Events: h.Events})
			if closedOnce && r.lateFrom == 0 {
				r.lateFrom = at
			}
		case chunkTrailer:
			closedOnce = true
		case chunkSegCont:
			if len(r.segs) == 0 {
				// Data with no frame start cannot be decoded.
				r.dataEnd = at
				r.addDamage(Damage{Offset: at, Bytes: r.size - at})
				return nil
			}
			s := &r.segs[len(r.segs)-1]
			if h.Events > 0 {
				if s.Events == 0 {
					s.Min, s.Max = h.Min, h.Max
				}
				s.Min, s.Max = min(s.Min, h.Min), max(s.Max, h.Max)
				s.Events = satAdd(s.Events, h.Events)
			}
		case chunkHeader:
			// A second header is not valid anywhere: nothing after it is
			// events.
			r.dataEnd = at
			r.addDamage(Damage{Offset: at, Bytes: r.size - at})
			return nil
		}
		// An index or trailer in the middle is where the file was closed
		// before an Append (format 1.1): the events go on after it. Like
		// unknown types, it is skipped.
	}
}

// span sets Start and End from the segment table.
func (r *Reader) span() {
	first := true
	for _, s := range r.segs {
		if s.Events == 0 {
			continue
		}
		if first || s.Min < r.start.UnixNano() {
			r.start = fromNano(s.Min)
		}
		if first || s.Max > r.end.UnixNano() {
			r.end = fromNano(s.Max)
		}
		first = false
	}
	if first {
		r.start, r.end = r.hdr.Started, r.hdr.Started
	}
}

// Header is the session's header.
func (r *Reader) Header() Header { return r.hdr }

// Start is the time of the earliest event (Header.Started if none).
func (r *Reader) Start() time.Time { return r.start }

// End is the time of the latest readable event.
func (r *Reader) End() time.Time { return r.end }

// Damage describes the first damaged place, with More counting the others,
// or is nil while the file looks intact. Open finds the damage of an
// unclosed file; corruption inside a closed file is found when an Iter
// reaches it, after which Damage reports it too.
func (r *Reader) Damage() *Damage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.damageLocked()
}

func (r *Reader) damageLocked() *Damage {
	if len(r.damages) == 0 {
		return nil
	}
	d := r.damages[0]
	d.More = len(r.damages) - 1
	return &d
}

// noteDamage records damage an Iter found and returns the damage to report.
func (r *Reader) noteDamage(d Damage) *Damage {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addDamage(d)
	return r.damageLocked()
}

// addDamage inserts d in offset order unless that place is known already.
func (r *Reader) addDamage(d Damage) {
	i := sort.Search(len(r.damages), func(i int) bool { return r.damages[i].Offset >= d.Offset })
	if i < len(r.damages) && r.damages[i].Offset == d.Offset {
		return
	}
	if len(r.damages) >= maxDamages {
		return
	}
	r.damages = append(r.damages, Damage{})
	copy(r.damages[i+1:], r.damages[i:])
	r.damages[i] = d
}

// tailDamage is the damage that ends the data, if any.
func (r *Reader) tailDamage() *Damage {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.damages {
		if d := r.damages[i]; d.Resume == 0 && d.Offset >= r.dataEnd {
			return r.damageLocked()
		}
	}
	return nil
}

// nextSegAfter is the offset of the first known segment start after off
// and before end, for an Iter to read on from past damage.
func (r *Reader) nextSegAfter(off, end int64) (int64, bool) {
	i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].Off > off })
	if i < len(r.segs) && r.segs[i].Off < end {
		return r.segs[i].Off, true
	}
	return 0, false
}

// minFrom is the earliest event time of the segment at off (zero if none).
func (r *Reader) minFrom(off int64) time.Time {
	for _, s := range r.segs {
		if s.Off == off && s.Events > 0 {
			return fromNano(s.Min)
		}
	}
	return time.Time{}
}

// maxBefore is the latest event time in segments that start before off.
func (r *Reader) maxBefore(off int64) time.Time {
	var t time.Time
	for _, s := range r.segs {
		if s.Off < off && s.Events > 0 && (t.IsZero() || s.Max > t.UnixNano()) {
			t = fromNano(s.Max)
		}
	}
	if t.IsZero() {
		t = r.hdr.Started
	}
	return t
}

// Close closes the file.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}
