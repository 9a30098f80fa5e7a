package sessions

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/stakeout/stakeout/event"
)

// Pausing: when the recording's own filesystem runs low (below the free-space
// floor, or filling fast as the diskfill probe sees it), the Writer stops
// writing but keeps the file open, counts the events it drops instead of
// buffering them, and resumes once the filesystem is safe again. The file
// stays a valid recording throughout: the open segment is ended on pause, a
// `recording` event on each side of the gap explains it in a replay, and
// Close still writes the index and trailer.

const (
	// FindingRecordPaused is the finding the Writer records when it pauses.
	FindingRecordPaused = "record.paused"
	// DefaultPauseHint tells the person how to record somewhere else.
	DefaultPauseHint = "record elsewhere with --record /other/fs/file.stk"

	// StateRecording, StatePaused, StateResumed and StateStopped are the
	// states of a `recording` event.
	StateRecording = "recording"
	StatePaused    = "paused"
	StateResumed   = "resumed"
	StateStopped   = "stopped"
)

type pauseState struct {
	reason  string    // why the current pause began; "" when recording
	asked   string    // set by Pause, cleared by Resume
	floor   bool      // the free-space floor holds the pause
	at      time.Time // event time of the pause notice
	dropped uint64    // events dropped since the pause began

	// After a write failed for lack of space (ENOSPC, EDQUOT), free space
	// by statfs is no evidence that the next write fits: a user over a disk
	// quota sees the filesystem's room, not the quota's, and resumed, failed
	// and paused again at every other flush. Recording resumes only once
	// statfs shows the failed chunk's size freed since, or a probe write of
	// that size succeeds; probes are tried after a back-off that doubles
	// from minBackoff to maxBackoff.
	wfail    bool
	failFree uint64    // free space by statfs when the write failed; MaxUint64 unknown
	failNeed int64     // the chunk that did not fit
	retryAt  time.Time // the next probe (Clock)
}

const (
	minBackoff = 2 * time.Second
	maxBackoff = time.Minute
)

func (p *pauseState) active() bool { return p.reason != "" }

// PauseData is record.paused's data.
type PauseData struct {
	File   string `json:"file"`
	Bytes  int64  `json:"bytes"`
	Reason string `json:"reason"`
	Hint   string `json:"hint"`
}

// Pause stops writing events until Resume (and until the filesystem is back
// above the free-space floor, if that paused it too). Pending events are
// flushed first if they fit. A `recording` {state: paused} event and a
// record.paused finding are written before the pause. Calling Pause again
// while paused only replaces the reason Resume clears.
func (w *Writer) Pause(reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || reason == "" {
		return
	}
	w.pause.asked = reason
	if w.pause.active() {
		return
	}
	// Save what is buffered and end the segment; the floor may pause it
	// first, which is just as good.
	if err := w.flushLocked(true); err != nil || w.pause.active() {
		return
	}
	w.beginPauseLocked(reason)
}

// Resume lifts a Pause. Recording starts again at once unless the
// filesystem is (still) below the free-space floor, or not yet back above it
// with room to spare; then it starts once a Flush finds that room.
func (w *Writer) Resume() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pause.asked = ""
	if w.err == nil && w.pause.active() {
		w.pause.floor = true
		w.recheckFloorLocked()
	}
}

// Paused reports whether recording is paused, and why.
func (w *Writer) Paused() (reason string, paused bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pause.reason, w.pause.active()
}

// Dropped is the number of events dropped during the current pause.
func (w *Writer) Dropped() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pause.dropped
}

// TakeNotices returns the pause and resume events written since the last
// call, for the screen and the report (they reach the file directly).
func (w *Writer) TakeNotices() []event.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.notices
	w.notices = nil
	return n
}

// floorPauseLocked pauses because the filesystem fell below the floor: the
// buffered events that did not fit are dropped and counted.
func (w *Writer) floorPauseLocked(reason string) {
	w.pause.floor = true
	if w.pause.active() {
		return
	}
	w.pause.dropped = uint64(w.pendN)
	w.pending, w.pendN = w.pending[:0], 0
	w.beginPauseLocked(reason)
}

// beginPauseLocked writes the pause notice (into the reserve kept for stop
// events, below the floor if need be), ends the segment and starts dropping
// events.
func (w *Writer) beginPauseLocked(reason string) {
	at := w.lastTime
	if at.IsZero() {
		at = time.Now().UTC()
	}
	w.pause.reason, w.pause.at = reason, at
	hint := w.opt.PauseHint
	rec := event.New(at, recorderProbe, &event.Recording{State: StatePaused, File: w.path, Reason: reason, Hint: hint})
	fnd := event.New(at, recorderProbe, &event.Finding{
		Finding:  FindingRecordPaused,
		Key:      FindingRecordPaused, // one recording per writer: each pause is raised anew
		Severity: event.Warn,
		Summary:  fmt.Sprintf("recording paused at %s: %s; %s", event.HumanBytes(w.size), reason, hint),
		Data:     PauseData{File: w.path, Bytes: w.size, Reason: reason, Hint: hint},
	})
	w.note(rec, fnd)
	var notice []byte
	for _, ev := range []event.Event{rec, fnd} {
		b, err := json.Marshal(w.opt.Own(ev))
		if err != nil || len(b) > stopReserve/4 {
			continue // cannot happen with these bodies; never overrun the reserve
		}
		notice = binary.AppendUvarint(notice, uint64(len(b)))
		notice = append(notice, b...)
	}
	// Like the stop events, the notice (under 1 KiB, once per pause) is
	// written below the floor if need be: it is what explains the gap, and
	// resuming needs far more room than it took. Only a disk without room
	// for it and the tail goes without; the segment is still ended, which
	// takes a few bytes.
	need := int64(len(notice)) + chunkHeaderSize + w.tailReserve() - stopReserve
	w.pending, w.pendN = w.pending[:0], 0
	if w.size+need <= w.opt.MaxBytes && w.roomFor(need) {
		ns := unixNano(at)
		w.pending = append(w.pending, notice...)
		w.pendN, w.pendMin, w.pendMax = 2, ns, ns
	}
	w.noting = true
	w.flushLocked(true) // a failure leaves the file ending on a chunk boundary
	w.noting = false
	w.pending, w.pendN = w.pending[:0], 0
}

// roomFor reports whether the filesystem has need bytes free at all,
// floor or not (true if it cannot tell).
func (w *Writer) roomFor(need int64) bool {
	avail, _, err := w.opt.FreeSpace(w.path)
	return err != nil || avail >= uint64(need)
}

// endPauseLocked starts recording again with a `recording` {state: resumed}
// event that says how long the gap was and how many events it lost.
func (w *Writer) endPauseLocked() {
	at := w.lastTime
	if at.Before(w.pause.at) {
		at = w.pause.at
	}
	secs := at.Sub(w.pause.at).Seconds()
	dropped := w.pause.dropped
	w.pause = pauseState{asked: w.pause.asked}
	w.resumed = w.opt.Clock()
	ev := event.New(at, recorderProbe, &event.Recording{State: StateResumed, File: w.path,
		PausedS: &secs, EventsDropped: &dropped})
	w.note(ev)
	w.writeLocked(w.opt.Own(ev)) // the next flush writes it, with the usual checks
}

// recheckFloorLocked lifts a floor pause once the filesystem has room for
// the largest chunk the Writer can write and the tail, with the floor and
// half of it again still free after them. A flush pauses when its own chunk
// would leave less than the floor; the largest chunk is the most that can
// take, so resuming always leaves at least half the floor of margin above
// any pause, whatever the flood's chunks weigh. Reserving only the tail (as
// this once did) resumed below the pause level whenever a chunk exceeded
// half the floor: a 32 MiB filesystem paused and resumed at every flush. As
// with the floor itself, a failing statfs does not hold recording back.
//
// After a failed write it also needs the evidence writeFailedLocked asks
// for; the probe runs only once statfs shows that room, so it never takes
// the filesystem below the floor.
func (w *Writer) recheckFloorLocked() {
	avail, size, err := w.opt.FreeSpace(w.path)
	if err == nil {
		floor := min(size/20, freeFloorCap)
		if resumeAt := floor + floor/2 + uint64(w.maxChunk()+w.tailReserve()); avail < resumeAt {
			w.pause.reason = fmt.Sprintf("filesystem nearly full: %s free of %s, resuming at %s free",
				event.HumanBytes(int64(avail)), event.HumanBytes(int64(size)), event.HumanBytes(int64(resumeAt)))
			return
		}
	}
	if w.pause.wfail {
		freed := err == nil && w.pause.failFree != math.MaxUint64 && avail >= w.pause.failFree &&
			avail-w.pause.failFree >= uint64(w.pause.failNeed)
		if !freed {
			now := w.opt.Clock()
			if now.Before(w.pause.retryAt) {
				return
			}
			if err := w.probeWriteLocked(w.pause.failNeed); err != nil {
				w.backoff = min(2*w.backoff, maxBackoff)
				w.pause.retryAt = now.Add(w.backoff)
				return
			}
		}
		w.pause.wfail = false
	}
	w.pause.floor = false
	if w.pause.asked == "" {
		w.endPauseLocked()
	} else {
		w.pause.reason = w.pause.asked
	}
}

// writeFailedLocked starts waiting for evidence that a write fits, after
// one of size need failed for lack of space (see pauseState). The back-off
// starts again from minBackoff unless the failure follows a resume by less
// than maxBackoff, when it doubles.
func (w *Writer) writeFailedLocked(need int64) {
	now := w.opt.Clock()
	if w.backoff == 0 || now.Sub(w.resumed) >= maxBackoff {
		w.backoff = minBackoff
	} else {
		w.backoff = min(2*w.backoff, maxBackoff)
	}
	free := uint64(math.MaxUint64)
	if avail, _, err := w.opt.FreeSpace(w.path); err == nil {
		free = avail
	}
	w.pause.wfail, w.pause.failFree, w.pause.failNeed = true, free, max(need, 4096)
	w.pause.retryAt = now.Add(w.backoff)
}

// probeWriteLocked appends n zero bytes and cuts them off again: whether a
// chunk of that size would be written now. If they cannot be cut off, the
// file would hold them between two chunks, so recording stops.
func (w *Writer) probeWriteLocked(n int64) error {
	n = min(n, w.maxChunk())
	_, err := w.f.Write(make([]byte, n))
	if terr := w.f.Truncate(w.size); terr != nil {
		w.stopLocked("cannot cut off a test write: " + terr.Error())
		return terr
	}
	return err
}

// maxChunk is the largest chunk a flush can write: pending is flushed as
// soon as it reaches pendingMax, so it holds at most that less one byte
// plus one record of the largest size, compressed at worst.
func (w *Writer) maxChunk() int64 {
	return chunkHeaderSize + int64(w.enc.MaxEncodedSize(pendingMax-1+lenRoom+maxRecordSize))
}

// maxNotices bounds the notices kept for a caller that never takes them.
const maxNotices = 16

func (w *Writer) note(evs ...event.Event) {
	if len(w.notices)+len(evs) <= maxNotices {
		w.notices = append(w.notices, evs...)
	}
}
