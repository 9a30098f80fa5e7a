package sessions

import (
	"encoding/binary"
	"sort"

	"github.com/stakeout/stakeout/event"
)

// Events appended to a finished file (Append: notes from the shell or a
// replay) sit after its first trailer, however early their time. Reading
// in file order would deliver a note about 04:00:10 after 05:00:00, and a
// reader stopping at --until would never reach it. So the Reader loads the
// appended events once (they are few: notes), sorts them by time, and every
// Iter merges them in at their time.

// maxAppendedBytes bounds the appended events a Reader holds in memory.
// Past it (a file someone appended a whole recording to) the appended part
// is delivered in file order instead, after the rest.
const maxAppendedBytes = 8 << 20

// findAppended sets lateFrom for an indexed file: the first segment right
// after a trailer. Every segment after the first close is appended data,
// since Append closes a killed file before it appends. It costs one 44-byte
// read per segment, and only for files with more than one.
func (r *Reader) findAppended() {
	var b [chunkHeaderSize + trailerPayload]byte
	for _, s := range r.segs[min(1, len(r.segs)):] {
		at := s.Off - int64(len(b))
		if at < r.dataStart {
			continue
		}
		if _, err := r.ra.ReadAt(b[:], at); err != nil {
			return
		}
		h, err := parseChunkHead(b[:])
		if err != nil || h.Type != chunkTrailer || h.Len != trailerPayload || !checkCRC(b[:], h, b[chunkHeaderSize:]) {
			continue
		}
		r.lateFrom = s.Off
		return
	}
}

// appended returns the appended events sorted by time, the error that ended
// reading them, and whether Iters should merge them (false when there are
// none or too many).
func (r *Reader) appended() ([]event.Event, error, bool) {
	if r.lateFrom == 0 {
		return nil, nil, false
	}
	r.lateOnce.Do(func() {
		it := r.fileIterRange(r.lateFrom, r.dataEnd)
		var size int
		for ev, ok := it.Next(); ok; ev, ok = it.Next() {
			if size += len(ev.Raw) + 256; size > maxAppendedBytes {
				it.finish(nil)
				r.late = nil
				return // lateOK stays false: file order
			}
			r.late = append(r.late, ev)
		}
		sort.SliceStable(r.late, func(i, j int) bool { return r.late[i].Time.Before(r.late[j].Time) })
		r.lateErr, r.lateOK = it.Err(), true
	})
	if !r.lateOK {
		return nil, nil, false
	}
	return r.late, r.lateErr, true
}

// fileIterRange reads [start, end) in file order; start is a segment start.
func (r *Reader) fileIterRange(start, end int64) *Iter {
	it := &Iter{r: r}
	it.cs = newChunkStream(r.ra, start, end)
	it.seg.cs = it.cs
	return it
}

// indexAndTrailer is what a close appends: the index of segs, then a
// trailer pointing at it, the index starting at offset idxAt.
func indexAndTrailer(segs []indexEntry, idxAt int64) []byte {
	var total uint32
	var gmin, gmax int64
	for _, s := range segs {
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
	tail := appendChunk(nil, chunkIndex, total, gmin, gmax, appendIndex(nil, segs))
	return appendChunk(tail, chunkTrailer, 0, 0, 0, binary.LittleEndian.AppendUint64(nil, uint64(idxAt)))
}
