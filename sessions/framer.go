package sessions

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stakeout/stakeout/event"
)

// framer turns events into the chunks of the format: it encodes each event
// as a record at the end of pending, and cuts what is pending into the next
// chunk of the open segment, whose one zstd frame goes on across cuts. The
// file Writer and the StreamWriter both frame their events with it; what
// happens to a chunk (the file's size and free-space checks and its
// append, or a pipe's queue) is theirs.
type framer struct {
	enc     *zstd.Encoder
	zout    bytes.Buffer // encoder output for the chunk being built
	chunk   []byte       // the last chunk cut, header and payload
	pending []byte       // records not yet compressed
	pendN   uint32
	pendMin int64
	pendMax int64

	inSeg bool       // a segment's frame is open
	segIn int64      // record bytes given to the open segment
	seg   indexEntry // the open segment (or the last one), as of the last cut
}

func newSegmentEncoder() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderConcurrency(1), // synchronous: Flush output is complete on return
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		// A 256 KiB window, not the whole 1 MiB segment: the history buffer
		// shrinks by 0.75 MiB, all of it first touched (at a page fault's
		// cost) when a flood starts, and the files stay the same size
		// (measured: the quiet-hour benchmark to the byte, mixed packet
		// batches 0.5% smaller). SpeedFastest would save another MiB of
		// tables but writes long runs so compactly that the reader's
		// decompression-ratio guard takes them for a bomb.
		zstd.WithWindowSize(segmentWindow),
		zstd.WithEncoderCRC(false), // every chunk already has a CRC
		zstd.WithLowerEncoderMem(true))
}

// fileHead is what every file and stream begins with: the preamble and the
// header chunk. A header without a start time gets the present one.
func fileHead(h Header) ([]byte, error) {
	h.FormatVersion = FormatMajor
	if h.Started.IsZero() {
		h.Started = time.Now().UTC()
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("sessions: header: %w", err)
	}
	if len(hj) > maxHeaderPayload {
		return nil, fmt.Errorf("sessions: header is %d bytes, limit %d", len(hj), maxHeaderPayload)
	}
	buf := make([]byte, 0, preambleSize+chunkHeaderSize+len(hj))
	buf = append(buf, fileMagic...)
	buf = binary.LittleEndian.AppendUint16(buf, FormatMajor)
	buf = binary.LittleEndian.AppendUint16(buf, formatMinor)
	return appendChunk(buf, chunkHeader, 0, 0, 0, hj), nil
}

// add encodes ev as one record at the end of pending. It returns an error,
// leaving pending as it was, for an event that cannot be encoded or is
// larger than 1 MiB.
func (f *framer) add(ev event.Event) error {
	// Encoded in place at the end of pending, after room for its length
	// prefix (a uvarint of at most 3 bytes: a record is at most 1 MiB), not
	// through a second buffer and a copy: json.Marshal(ev) would allocate
	// and re-scan every byte, which a packet flood pays per packet. pending
	// starts at 64 KiB, which a quiet host never fills between flushes, and
	// then goes in one step to what a busy one needs (it is flushed at
	// pendingMax), not by append's quarter steps for large slices: every
	// step is fresh heap, and under a flood the steps' page faults cost
	// more than the encoding.
	start := len(f.pending)
	if room := cap(f.pending) - start; room < 64<<10 {
		want := 64 << 10
		if cap(f.pending) >= want {
			want = pendingMax + 256<<10
		}
		f.pending = slices.Grow(f.pending, max(want-start, 64<<10))
	}
	b, err := ev.AppendJSON(append(f.pending, 0, 0, 0))
	n := len(b) - start - lenRoom
	if err != nil || n > maxRecordSize {
		if cap(b) <= 2*(pendingMax+maxRecordSize) {
			f.pending = b[:start]
		}
		if err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
		return fmt.Errorf("sessions: %s event is %d bytes, limit %d", ev.Kind, n, maxRecordSize)
	}
	var prefix [lenRoom]byte
	if k := binary.PutUvarint(prefix[:], uint64(n)); k < lenRoom {
		copy(b[start+k:], b[start+lenRoom:])
		b = b[:len(b)-(lenRoom-k)]
		copy(b[start:], prefix[:k])
	} else {
		copy(b[start:], prefix[:])
	}
	f.pending = b
	t := unixNano(ev.Time)
	if f.pendN == 0 || t < f.pendMin {
		f.pendMin = t
	}
	if f.pendN == 0 || t > f.pendMax {
		f.pendMax = t
	}
	f.pendN++
	return nil
}

// lenRoom is the most bytes a record's uvarint length takes.
const lenRoom = 3

// cut compresses the pending records into f.chunk: the next chunk of the
// open segment, or the first chunk of a new one that will start at offset
// off. endSeg ends the segment's frame even if it is not yet due (60 s of
// event time or 1 MiB of records). It reports whether the chunk starts a
// segment; f.seg is then the new segment, else the open one with this
// chunk's events added. Pending is emptied either way. After an error the
// frame has lost a block, so whatever comes next starts a new segment; so
// must the caller's next cut if it could not deliver the chunk (it sets
// inSeg false).
func (f *framer) cut(endSeg bool, off int64) (start bool, err error) {
	n, cmin, cmax := f.pendN, f.pendMin, f.pendMax
	if n == 0 {
		cmin, cmax = 0, 0
	}
	typ := chunkSegCont
	seg := f.seg
	if f.inSeg {
		if n > 0 && seg.Events > 0 {
			seg.Min, seg.Max = min(seg.Min, cmin), max(seg.Max, cmax)
		} else if n > 0 {
			seg.Min, seg.Max = cmin, cmax
		}
	} else {
		typ = chunkSegStart
		seg = indexEntry{Off: off, Min: cmin, Max: cmax}
		f.zout.Reset()
		f.enc.Reset(&f.zout)
		f.segIn = 0
	}
	seg.Events += n
	f.segIn += int64(len(f.pending))
	roll := endSeg || f.segIn >= segmentMaxInput || time.Duration(seg.Max-seg.Min) >= segmentSpan
	if _, err = f.enc.Write(f.pending); err == nil {
		if roll {
			err = f.enc.Close()
		} else {
			err = f.enc.Flush()
		}
	}
	f.pending, f.pendN = f.pending[:0], 0
	if err != nil {
		f.inSeg = false
		return false, err
	}
	f.chunk = appendChunk(f.chunk[:0], typ, n, cmin, cmax, f.zout.Bytes())
	f.zout.Reset()
	f.seg, f.inSeg = seg, !roll
	return typ == chunkSegStart, nil
}
