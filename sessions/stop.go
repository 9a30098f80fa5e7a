package sessions

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stakeout/stakeout/event"
)

// Disk safety: stakeout runs on hosts that may already be in trouble, so the
// recorder must never be what fills a disk. It stops while it can still end
// the file cleanly, and says so in the file itself.

const (
	// stopReserve is kept free below MaxBytes for the stop events.
	stopReserve = 16 << 10
	// freeFloorCap caps the free-space floor: 5% of a 40 TB array is more
	// margin than anyone needs.
	freeFloorCap = 1 << 30

	// FindingRecordStopped is the finding the Writer records when it stops early.
	FindingRecordStopped = "record.stopped"
	recorderProbe        = "recorder"
)

// tailReserve is what the stop events, index and trailer may still need.
func (w *Writer) tailReserve() int64 {
	return stopReserve + 2*chunkHeaderSize + 4 + indexEntrySize*int64(len(w.segs)+1) + trailerPayload
}

// sizeLimitReason says why writing `next` more bytes would pass MaxBytes,
// or "". Passing it stops recording for good; the free-space floor
// (diskFloorReason, one statfs per flush) only pauses it.
func (w *Writer) sizeLimitReason(next int64) string {
	if w.size+next+w.tailReserve() > w.opt.MaxBytes {
		return fmt.Sprintf("file reached its %s limit", event.HumanBytes(w.opt.MaxBytes))
	}
	return ""
}

// diskFloorReason reports the filesystem as nearly full when fewer than
// need bytes would be left above min(5% of its size, 1 GiB). An error from
// the check does not stop recording: MaxBytes still bounds the file.
func diskFloorReason(freeSpace func(string) (uint64, uint64, error), path string, need int64) string {
	avail, size, err := freeSpace(path)
	if err != nil {
		return ""
	}
	floor := min(size/20, freeFloorCap)
	if avail >= floor && avail-floor >= uint64(need) {
		return ""
	}
	return fmt.Sprintf("filesystem nearly full: %s free of %s, keeping %s free",
		event.HumanBytes(int64(avail)), event.HumanBytes(int64(size)), event.HumanBytes(int64(floor)))
}

// stopLocked ends recording for good: buffered events that did not fit are
// dropped, a Recording{stopped} event and a record.stopped finding are
// written into the reserved tail, and the file is closed with its index.
func (w *Writer) stopLocked(reason string) error {
	w.stopReason = reason
	w.err = fmt.Errorf("%w: %s", ErrStopped, reason)
	w.pending, w.pendN = w.pending[:0], 0
	at := w.lastTime
	if at.IsZero() {
		at = time.Now().UTC()
	}
	summary := fmt.Sprintf("recording stopped at %s: %s", event.HumanBytes(w.size), reason)
	evs := []event.Event{
		event.New(at, recorderProbe, &event.Recording{State: "stopped", File: w.path, Reason: reason}),
		event.New(at, recorderProbe, &event.Finding{
			Finding:  FindingRecordStopped,
			Severity: event.Warn,
			Summary:  summary,
			Data:     stopData{File: w.path, Bytes: w.size, Reason: reason},
		}),
	}
	ns := unixNano(at)
	for _, ev := range evs {
		b, err := json.Marshal(w.opt.Own(ev))
		if err != nil || len(b) > stopReserve/2-chunkHeaderSize {
			continue // cannot happen with these bodies; never overrun the reserve
		}
		w.pending = binary.AppendUvarint(w.pending, uint64(len(b)))
		w.pending = append(w.pending, b...)
		w.pendN++
		w.pendMin, w.pendMax = ns, ns
	}
	w.flushLocked(true) // a failure here leaves the file ending on a chunk boundary
	w.finishLocked(w.err)
	return w.err
}

type stopData struct {
	File   string `json:"file"`
	Bytes  int64  `json:"bytes"`
	Reason string `json:"reason"`
}

// finishLocked writes the index and trailer in one write (so they land or
// are cut back together), syncs and closes the file. sticky becomes the
// error every later call returns.
func (w *Writer) finishLocked(sticky error) error {
	if w.err == nil {
		w.err = sticky
	}
	defer w.signalDone()
	var total uint32
	var gmin, gmax int64
	for _, s := range w.segs {
		if s.Events == 0 {
			continue
		}
		if total == 0 || s.Min < gmin {
			gmin = s.Min
		}
		if total == 0 || s.Max > gmax {
			gmax = s.Max
		}
		total = satAdd(total, s.Events)
	}
	var err error
	if idx := appendIndex(nil, w.segs); len(idx) <= maxChunkPayload {
		// Without an index (absurdly many segments) readers rebuild it.
		tail := appendChunk(nil, chunkIndex, total, gmin, gmax, idx)
		tail = appendChunk(tail, chunkTrailer, 0, 0, 0, binary.LittleEndian.AppendUint64(nil, uint64(w.size)))
		err = w.append(tail)
	}
	if serr := w.f.Sync(); err == nil {
		err = serr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func satAdd(a, b uint32) uint32 {
	if a+b < a {
		return ^uint32(0)
	}
	return a + b
}
