package sessions

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/internal/aligned"
)

// DefaultMaxBytes is the file size at which a Writer stops recording when
// WriterOptions.MaxBytes is zero.
const DefaultMaxBytes = 256 << 20

const (
	defaultFlushEvery = time.Second
	// A segment is one zstd frame and the unit a seek decodes from. A minute
	// or 1 MiB of input keeps a seek cheap; longer frames compress only a few
	// percent better (measured: 60 s vs 1 h is 6%).
	segmentSpan     = 60 * time.Second
	segmentMaxInput = 1 << 20
	segmentWindow   = 256 << 10
	// pendingMax bounds memory between flushes on a busy host: past it a
	// Write flushes at once.
	pendingMax = 512 << 10
)

// WriterOptions tune a Writer. The zero value is the production setting.
type WriterOptions struct {
	// MaxBytes caps the file; 0 means DefaultMaxBytes. The Writer stops
	// before the file would grow past it.
	MaxBytes int64
	// FreeSpace reports the bytes available to the Writer and the total size
	// of the filesystem holding path. nil means statfs(2). Tests inject a
	// nearly full disk here.
	FreeSpace func(path string) (avail, size uint64, err error)
	// FlushEvery is the period of the Writer's own flusher goroutine; 0
	// means one second, negative means no goroutine (the caller flushes).
	FlushEvery time.Duration
	// PauseHint ends the pause notice: how to record somewhere else. ""
	// means DefaultPauseHint.
	PauseHint string
	// Own rewrites the events the Writer writes of its own accord (the
	// stopped, paused and resumed notices and their findings) before they
	// reach the file, as the caller rewrites the events it writes: with
	// --redact these name the file's path. nil writes them as they are.
	// The notices handed to TakeNotices are not rewritten.
	Own func(event.Event) event.Event
	// Clock is the time the Writer's back-off after a failed write goes
	// by; nil means time.Now. Tests step it.
	Clock func() time.Time
}

// Writer appends events to a new session file. Write only buffers; a flush
// compresses what was buffered and appends it as one chunk. The Writer runs
// its own flusher every FlushEvery, so callers need not call Flush; doing so
// as well is harmless. All methods are safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	f    recFile
	path string
	opt  WriterOptions

	size int64 // bytes durably handed to the kernel
	framer
	segs []indexEntry

	lastTime time.Time // latest event time seen; stamps the stop events

	stopReason string
	err        error // sticky: set once stopped or closed

	pause   pauseState    // see pause.go
	backoff time.Duration // wait after a failed write before the next try (pause.go)
	resumed time.Time     // when the last pause ended (Clock)
	noting  bool          // writing a pause notice into the reserve
	notices []event.Event // pause and resume events not yet taken

	done     chan struct{}
	doneOnce sync.Once
	wg       sync.WaitGroup
}

// recFile is what a Writer does to its file: an *os.File, or in tests one
// that fails like a full disk quota.
type recFile interface {
	Write([]byte) (int, error)
	Truncate(int64) error
	Sync() error
	Close() error
}

var errClosed = errors.New("sessions: writer closed")

// Create makes a new session file at path with mode 0600. It never replaces
// an existing file or follows a symlink in its place (O_EXCL|O_NOFOLLOW).
// The directory must exist (see EnsureDir) and be safe: owned, like every
// directory above it, by the running user or root (or the user who ran
// sudo), writable by no one else unless sticky, and reached only through
// symlinks those users own; otherwise it returns an *UnsafeDirError and
// creates nothing. If the filesystem is already below the free-space floor,
// it records nothing and returns an error wrapping ErrStopped.
func Create(path string, h Header, o WriterOptions) (*Writer, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.FreeSpace == nil {
		o.FreeSpace = statfsFree
	}
	if o.FlushEvery == 0 {
		o.FlushEvery = defaultFlushEvery
	}
	if o.PauseHint == "" {
		o.PauseHint = DefaultPauseHint
	}
	if o.Own == nil {
		o.Own = func(ev event.Event) event.Event { return ev }
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	buf, err := fileHead(h)
	if err != nil {
		return nil, err
	}
	// Checked before anything touches the path, and the file made in the
	// directory as resolved: nobody else can change the path to it.
	dir, err := safeDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	resolved := filepath.Join(dir, filepath.Base(path))
	if reason := diskFloorReason(o.FreeSpace, resolved, 0); reason != "" {
		return nil, fmt.Errorf("sessions: not recording to %s: %w: %s", path, ErrStopped, reason)
	}
	enc, err := newSegmentEncoder()
	if err != nil {
		return nil, err
	}
	// O_APPEND: after a failed write is truncated away, later writes land at
	// the new end rather than leaving a hole.
	f, err := os.OpenFile(resolved, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND|oNoFollow, 0o600)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			pe.Path = path // as the caller named it
		}
		return nil, err
	}
	// Held until the file is closed, so Append refuses a file being recorded.
	// Best effort: a filesystem without locks must not stop a recording.
	lockFile(f, 0)
	if _, err := f.Write(buf); err != nil {
		f.Close()
		os.Remove(resolved) // ours: O_EXCL made it
		return nil, err
	}
	w := &Writer{f: f, path: path, opt: o, size: int64(len(buf)), framer: framer{enc: enc}, done: make(chan struct{})}
	if o.FlushEvery > 0 {
		w.wg.Add(1)
		go w.flushLoop(o.FlushEvery)
	}
	return w, nil
}

func (w *Writer) flushLoop(every time.Duration) {
	defer w.wg.Done()
	t := aligned.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			w.Flush() // a failure stops the Writer; Write reports it
		}
	}
}

// Write buffers ev. It returns an error wrapping ErrStopped once recording
// has stopped, and an error (without stopping) for an event that cannot be
// encoded or is larger than 1 MiB. While paused (see Pause) the event is
// dropped and counted, and Write returns nil.
func (w *Writer) Write(ev event.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && w.pause.active() {
		w.pause.dropped++
		if ev.Time.After(w.lastTime) {
			w.lastTime = ev.Time // the resume notice is stamped with it
		}
		return nil
	}
	return w.writeLocked(ev)
}

func (w *Writer) writeLocked(ev event.Event) error {
	if w.err != nil {
		return w.err
	}
	if err := w.add(ev); err != nil {
		return err
	}
	if ev.Time.After(w.lastTime) {
		w.lastTime = ev.Time
	}
	if len(w.pending) >= pendingMax {
		return w.flushLocked(false)
	}
	return nil
}

// Flush compresses buffered events and appends them to the file, after the
// size and free-space checks; it may stop the recording (error wrapping
// ErrStopped) or pause it (see Pause). The data then survives the process
// being killed. While the free-space floor holds a pause, each Flush checks
// whether the filesystem has recovered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.pause.floor {
		w.recheckFloorLocked()
	}
	return w.flushLocked(false)
}

// flushLocked writes pending records as one chunk. endSeg closes the
// segment's frame even if it is not yet due (Close, stop).
func (w *Writer) flushLocked(endSeg bool) error {
	if len(w.pending) == 0 && !(endSeg && w.inSeg) {
		return nil
	}
	stopping := w.stopReason != "" // the stop events use the reserved tail
	if !stopping && !w.noting {
		worst := int64(chunkHeaderSize + w.enc.MaxEncodedSize(len(w.pending)))
		if reason := w.sizeLimitReason(worst); reason != "" {
			return w.stopLocked(reason)
		}
		if reason := diskFloorReason(w.opt.FreeSpace, w.path, worst+w.tailReserve()); reason != "" {
			w.floorPauseLocked(reason)
			return nil
		}
	}
	n := w.pendN
	start, err := w.cut(endSeg, w.size)
	if err == nil {
		err = w.append(w.chunk)
	}
	if err != nil {
		// The frame lost a block: whatever comes next starts a new segment.
		w.inSeg = false
		if stopping || w.noting {
			return err
		}
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			// Full after all, or over a disk quota (something else filled it between statfs and
			// write): pause; statfs alone cannot say when to resume
			// (a quota does not show in it), so a write must (pause.go).
			need := int64(len(w.chunk)) // before the pause notice reuses it
			w.floorPauseLocked("write failed: " + err.Error())
			w.pause.dropped += uint64(n)
			w.writeFailedLocked(need)
			return nil
		}
		return w.stopLocked("write failed: " + err.Error())
	}
	if start {
		w.segs = append(w.segs, w.seg)
	} else {
		w.segs[len(w.segs)-1] = w.seg
	}
	return nil
}

// append writes b at the end of the file. A partial write (ENOSPC, EIO) is
// cut back off so the file still ends on a chunk boundary.
func (w *Writer) append(b []byte) error {
	n, err := w.f.Write(b)
	if err != nil {
		if n > 0 {
			w.f.Truncate(w.size) // best effort; a reader also copes with a torn tail
		}
		return err
	}
	w.size += int64(n)
	return nil
}

// Size is the number of bytes written to the file so far.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// Path is the file being written.
func (w *Writer) Path() string { return w.path }

// Stopped reports whether recording stopped early, and why.
func (w *Writer) Stopped() (reason string, stopped bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopReason, w.stopReason != ""
}

// Close flushes, ends the last segment, writes the index and trailer, syncs
// and closes the file. After a stop the file is already closed and Close
// returns nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		w.stopFlusher()
		if errors.Is(w.err, ErrStopped) {
			return nil
		}
		return w.err
	}
	err := w.flushLocked(true)
	if w.err == nil { // not stopped by that flush
		err = w.finishLocked(errClosed)
	} else if errors.Is(err, ErrStopped) {
		err = nil
	}
	w.mu.Unlock()
	w.stopFlusher()
	return err
}

// stopFlusher ends the flusher goroutine and waits for it; it must not be
// called with mu held, since the goroutine may be waiting for mu.
func (w *Writer) stopFlusher() {
	w.signalDone()
	w.wg.Wait()
}

func (w *Writer) signalDone() { w.doneOnce.Do(func() { close(w.done) }) }
