package sessions

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stakeout/stakeout/event"
)

// Iter delivers a session's events in file order, except that events
// appended to a finished file (notes) come at their time among the others
// (see appended.go). It is not safe for concurrent use; make one per
// goroutine.
type Iter struct {
	r    *Reader
	from time.Time
	cs   *chunkStream
	segDecoder
	inSeg  bool
	segOff int64
	last   time.Time // latest event decoded, to date damage
	hole   *Damage   // damage read past, reported when iteration ends
	done   bool
	err    error

	envOnly  bool          // decode only each record's envelope (RawIter)
	late     []event.Event // appended events still to merge in, by time
	lateErr  error
	mainEv   event.Event // read ahead from the file, to merge against
	hasMain  bool
	mainDone bool
}

// Iter returns the events with Time >= from, in file order, with appended
// events merged in at their time. It uses the index to start at the first
// segment that can hold such an event, so its cost does not grow with the
// length of the recording.
func (r *Reader) Iter(from time.Time) *Iter { return r.iter(from, -1) }

// RawIter is Iter delivering events as read, not decoded: Body nil and Raw
// the record, as for kinds this build does not know (appended events, read
// once into memory, keep their bodies). It costs a third of Iter on packet
// batches, for a reader that only wants the fields as JSON.
func (r *Reader) RawIter(from time.Time) *Iter {
	it := r.iter(from, -1)
	it.envOnly = true
	return it
}

// iter is Iter reading the data in file order no further than stop (-1:
// to its end).
func (r *Reader) iter(from time.Time, stop int64) *Iter {
	late, lateErr, merged := r.appended()
	end := r.dataEnd
	if merged {
		end = r.lateFrom
	}
	if stop >= 0 && stop < end {
		end = stop
	}
	it := r.fileIter(from, end)
	if !merged {
		return it
	}
	i := sort.Search(len(late), func(i int) bool { return !late[i].Time.Before(from) })
	it.late, it.lateErr = late[i:], lateErr
	return it
}

// fileIter reads the data before end in file order.
func (r *Reader) fileIter(from time.Time, end int64) *Iter {
	it := &Iter{r: r, from: from}
	start := end
	fromNs := unixNano(from)
	for i, s := range r.segs {
		if s.Off >= end {
			break
		}
		if s.Events > 0 && s.Max >= fromNs {
			start = s.Off
			if i == 0 {
				start = r.dataStart
			}
			break
		}
	}
	it.cs = newChunkStream(r.ra, start, end)
	it.seg.cs = it.cs
	return it
}

// Next returns the next event, or false at the end or on an error (Err).
// An event whose kind this build does not know, or whose body it cannot
// decode, comes back with Body nil and Raw set.
func (it *Iter) Next() (event.Event, bool) {
	if !it.hasMain && !it.mainDone {
		it.mainEv, it.hasMain = it.nextInFile()
		it.mainDone = !it.hasMain
	}
	if len(it.late) > 0 && (!it.hasMain || it.late[0].Time.Before(it.mainEv.Time)) {
		ev := it.late[0]
		it.late = it.late[1:]
		return ev, true
	}
	if it.hasMain {
		it.hasMain = false
		return it.mainEv, true
	}
	return event.Event{}, false
}

// nextInFile is Next in file order.
func (it *Iter) nextInFile() (event.Event, bool) {
	for !it.done {
		if !it.inSeg {
			it.startSegment()
			continue
		}
		ev, ok := it.record()
		if !ok {
			continue
		}
		if ev.Time.After(it.last) {
			it.last = ev.Time
		}
		if ev.Time.Before(it.from) {
			continue
		}
		return ev, true
	}
	return event.Event{}, false
}

// Err reports why iteration ended early: a *Damage when unreadable data was
// reached (every event before it was delivered), or an I/O error. It is nil
// when the whole recording was read.
func (it *Iter) Err() error {
	if it.err == nil && it.mainDone && len(it.late) == 0 {
		return it.lateErr
	}
	return it.err
}

// startSegment moves to the next segment-start chunk.
func (it *Iter) startSegment() {
	at := it.cs.off
	h, p, err := it.cs.next()
	switch {
	case err == io.EOF:
		it.finish(nil)
		return
	case err != nil:
		it.fail(at, at, err)
		return
	}
	switch h.Type {
	case chunkSegStart:
		if err := it.begin(p, at); err != nil {
			it.finish(err)
			return
		}
		it.inSeg, it.segOff = true, at
	case chunkSegCont, chunkHeader:
		it.fail(at, at, errDamaged) // undecodable without its frame start
	}
	// An index and trailer in the middle of the data (a file closed, then
	// appended to) and unknown chunk types are skipped.
}

// record reads one length-prefixed event record. ok is false when the
// segment ended or iteration stopped.
func (it *Iter) record() (ev event.Event, ok bool) {
	b, end, err := it.next()
	if end {
		it.inSeg = false
		return ev, false
	}
	if err != nil {
		it.segFail(err)
		return ev, false
	}
	// UnmarshalJSON checks the syntax itself; json.Unmarshal would scan the
	// record once more before calling it, a tenth of the cost of reading a
	// packet flood. It is handed the bytes json.Unmarshal would hand it.
	decode := ev.UnmarshalJSON
	if it.envOnly {
		decode = ev.UnmarshalEnvelope
	}
	if err := decode(bytes.Trim(b, " \t\r\n")); err != nil && ev.Kind == "" {
		// No usable envelope: nothing to hand on. A bad body only loses
		// Body (ev keeps Raw), like an unknown kind.
		return ev, false
	}
	return ev, true
}

// segDecoder decodes a segment's records: the zstd decoder reads the
// payloads of its S chunk and the C chunks after it (seg), through the
// bound on the work of reading (lim). Iter, over a file, and StreamReader,
// over a pipe, both read their records with it.
type segDecoder struct {
	seg segReader
	dec *zstd.Decoder
	lim segLimit
	br  *bufio.Reader // over lim, for reading record lengths byte by byte
	buf []byte
}

// begin starts decoding the segment whose S chunk, at offset at, has
// payload p.
func (d *segDecoder) begin(p []byte, at int64) error {
	if d.dec == nil {
		dec, err := getDecoder()
		if err != nil {
			return err
		}
		d.dec = dec
		d.lim.r, d.lim.seg = d.dec, &d.seg
		d.br = bufio.NewReaderSize(&d.lim, 32<<10)
	}
	d.seg.cur, d.seg.curOff, d.seg.err = p, at, nil
	d.seg.fed += int64(len(p))
	if err := d.dec.Reset(&d.seg); err != nil {
		return err
	}
	d.lim.out = 0
	d.br.Reset(&d.lim)
	return nil
}

// next reads the segment's next record, valid until the next call. end
// reports that the segment ended on a record boundary; err that it cannot
// be read on (the segment reader's own error, d.seg.err, says why when it
// has one).
func (d *segDecoder) next() (rec []byte, end bool, err error) {
	n, first, err := readUvarint(d.br)
	if err != nil {
		if first && (err == io.EOF || err == io.ErrUnexpectedEOF) && d.seg.err == nil {
			// The segment ended on a record boundary. A frame without its
			// last block (the writer was killed, or a write failed) ends
			// this way too, after all its complete blocks were delivered.
			return nil, true, nil
		}
		return nil, false, err
	}
	if n == 0 || n > maxRecordSize {
		return nil, false, errDamaged
	}
	if d.lim.work += recordWork; d.lim.work > d.lim.budget() {
		return nil, false, errSegmentTooBig
	}
	if cap(d.buf) < int(n) {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.br, b); err != nil {
		return nil, false, err
	}
	return b, false, nil
}

// release hands the decoder back to the pool.
func (d *segDecoder) release() {
	if d.dec != nil {
		d.dec.Reset(nil) // drop its reference to the input
		decoders.Put(d.dec)
		d.dec, d.br = nil, nil
	}
}

// segFail ends iteration inside a segment: an I/O error of the file is
// passed on; anything else the decoder or a short record reports means the
// bytes are bad, at the chunk the segment reader found damaged, else at the
// chunk being decoded.
func (it *Iter) segFail(err error) {
	if it.seg.err != nil {
		err = it.seg.err
	}
	if re := (*readError)(nil); errors.As(err, &re) {
		it.finish(re.err)
		return
	}
	if !errors.Is(err, errSegmentTooBig) {
		err = errDamaged
	}
	it.fail(it.seg.curOff, it.segOff, err)
}

// fail handles damage found at off; an I/O error ends iteration. Reading
// goes on at the next segment start after the damage, if the reader knows
// one; otherwise iteration ends there. Segments starting before whole were
// read completely (or skipped as too early), so their latest time dates the
// damage along with what was decoded.
func (it *Iter) fail(off, whole int64, err error) {
	if !errors.Is(err, errDamaged) {
		it.finish(err)
		return
	}
	at := it.r.maxBefore(whole)
	if it.last.After(at) {
		at = it.last
	}
	d := Damage{At: at, Offset: off, Bytes: it.r.size - off, Limit: errors.Is(err, errSegmentTooBig)}
	next, ok := it.r.nextSegAfter(off, it.cs.end)
	if !ok {
		it.finish(it.r.noteDamage(d))
		return
	}
	d.Bytes, d.Resume, d.ResumeAt = next-off, next, it.r.minFrom(next)
	it.hole = it.r.noteDamage(d)
	it.cs = newChunkStream(it.r.ra, next, it.cs.end)
	it.seg = segReader{cs: it.cs, fed: it.seg.fed}
	it.inSeg = false
}

// finish ends iteration. Damage read past is reported at the end, and so
// is the damaged tail of a file when the data ends at it.
func (it *Iter) finish(err error) {
	if err == nil {
		if d := it.r.tailDamage(); d != nil {
			err = d
		} else if it.hole != nil {
			err = it.r.Damage()
		}
	}
	it.done, it.inSeg, it.err = true, false, err
	it.release()
}

// decoders are pooled: each holds a window-sized history buffer, and a
// Player seeking around would otherwise allocate one per seek.
var decoders sync.Pool

func getDecoder() (*zstd.Decoder, error) {
	if d, ok := decoders.Get().(*zstd.Decoder); ok {
		return d, nil
	}
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1), // no goroutines, no read-ahead
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxDecoderWindow),
		zstd.WithDecoderMaxMemory(maxDecoderWindow))
}

// segReader feeds the zstd decoder the payloads of one segment's chunks.
// It returns io.EOF before the next segment start, the index, or the end
// of the data, so a decoder never runs into the next frame.
type segReader struct {
	cs     *chunkStream
	cur    []byte
	curOff int64 // offset of the chunk cur came from
	err    error // damage or I/O error met while reading ahead
	// fed counts the compressed bytes taken from chunks over the Iter's
	// life. A chunk counts whole as it is taken, before the decoder asks
	// for its bytes, so a segment after one cut for its size has its
	// budget before it decodes anything.
	fed int64
}

// readError wraps an I/O failure of the file itself, so it is not mistaken
// for bad data.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

func (s *segReader) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		typ, err := s.cs.peekType()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err == nil && typ != chunkSegCont {
			switch typ {
			case chunkSegStart, chunkIndex, chunkTrailer, chunkHeader:
				return 0, io.EOF // the iterator takes it from here
			}
		}
		at := s.cs.off
		h, payload, err := s.cs.next()
		if err != nil {
			if !errors.Is(err, errDamaged) {
				err = &readError{err}
			}
			s.err, s.curOff = err, at
			return 0, err
		}
		if h.Type == chunkSegCont {
			s.cur, s.curOff = payload, at
			s.fed += int64(len(payload))
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// segLimit bounds the work of reading (see maxReadRatio): a crafted frame
// of RLE blocks expands 30000-fold, and a file of many tiny segments that
// each expand to 8 MiB of packet batches took most of a minute to report.
// Both caps hold: maxSegmentDecoded per segment, and the Iter's work so
// far (decoded bytes, and recordWork per record, counted by Iter.record)
// within readFloor plus maxReadRatio times the compressed bytes fed.
type segLimit struct {
	r     io.Reader
	seg   *segReader
	out   int64 // decoded in this segment
	total int64 // decoded over the Iter's life
	work  int64 // total plus recordWork per record read
}

// errSegmentTooBig wraps errDamaged: the rest of the segment is not read.
var errSegmentTooBig = fmt.Errorf("%w: decodes past the reader's limit", errDamaged)

// budget is the work the Iter may have done by now.
func (l *segLimit) budget() int64 { return readFloor + maxReadRatio*l.seg.fed }

func (l *segLimit) Read(p []byte) (int, error) {
	budget := l.budget()
	if l.out >= maxSegmentDecoded || l.work > budget {
		return 0, errSegmentTooBig
	}
	// At the limit, one byte more lets the decoder pull its next input,
	// which raises the budget if the data is honest.
	room := min(maxSegmentDecoded-l.out, max(budget-l.work, 1))
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.out += int64(n)
	l.total += int64(n)
	l.work += int64(n)
	return n, err
}

// readUvarint reads a record length. first reports that the error came
// before any byte of it, i.e. on a record boundary.
func readUvarint(r io.ByteReader) (v uint64, first bool, err error) {
	for i := 0; i < 10; i++ {
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, i == 0, err
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, false, nil
		}
	}
	return 0, false, errDamaged
}
