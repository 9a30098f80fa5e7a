package sessions

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stakeout/stakeout/event"
)

// ErrNotStream is wrapped by ReadStream when what it reads does not begin
// like a stream: what a user sees when the other side printed an error
// (`bash: stakeout: command not found`) instead of running stakeout.
var ErrNotStream = errors.New("not a stakeout stream")

// StreamReader reads a stream as it arrives (see StreamWriter): each event
// comes out as soon as the chunk holding it has. Its limits are the file
// reader's: chunk payloads, header and records, the zstd window, a
// segment's decoded size, and the work of reading (decoded bytes plus 64
// per record within 64 KiB + 128× the compressed bytes read, over the
// whole stream). Unlike a file, a stream is not read past damage: the
// first bad chunk ends it with an error that names its byte offset. Not
// safe for concurrent use.
type StreamReader struct {
	cs  *chunkStream
	hdr Header
	segDecoder
	inSeg bool
	ended bool // the last chunk was the trailer: an end here is clean
	err   error
}

// ReadStream reads the preamble and header from r, which it then owns:
// it reads ahead into a buffer of its own.
func ReadStream(r io.Reader) (*StreamReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if err := readMagic(br); err != nil {
		return nil, err
	}
	pre := make([]byte, preambleSize)
	if n, err := io.ReadFull(br, pre); err != nil {
		return nil, fmt.Errorf("stream cut short at byte %d, inside its preamble: %w", n, io.ErrUnexpectedEOF)
	}
	major, minor := binary.LittleEndian.Uint16(pre[8:]), binary.LittleEndian.Uint16(pre[10:])
	if major != FormatMajor {
		return nil, fmt.Errorf("stream: %w", &VersionError{Major: major, Minor: minor})
	}
	sr := &StreamReader{cs: newPipeChunkStream(br, int64(preambleSize))}
	sr.seg.cs = sr.cs
	h, p, err := sr.cs.next()
	switch {
	case err == io.EOF:
		return nil, fmt.Errorf("stream ended at byte %d, before its header: %w", preambleSize, io.ErrUnexpectedEOF)
	case err != nil:
		return nil, sr.chunkErr(int64(preambleSize), err)
	case h.Type != chunkHeader || h.Len > maxHeaderPayload:
		return nil, fmt.Errorf("stream damaged at byte %d: its first chunk is no header", preambleSize)
	}
	if err := json.Unmarshal(p, &sr.hdr); err != nil {
		return nil, fmt.Errorf("stream damaged at byte %d: its header is not valid JSON", preambleSize)
	}
	return sr, nil
}

// readMagic checks the magic a byte at a time as the bytes arrive, so a
// stream that begins with anything else is refused as soon as it differs,
// not when 8 bytes have come.
func readMagic(br *bufio.Reader) error {
	for i := 0; i < len(fileMagic); i++ {
		b, err := br.Peek(i + 1)
		if len(b) > i && b[i] != fileMagic[i] {
			return notStream(br)
		}
		if err != nil {
			if len(b) == 0 && err == io.EOF {
				return fmt.Errorf("%w: it is empty", ErrNotStream)
			}
			if errors.Is(err, io.EOF) {
				return notStream(br)
			}
			return err
		}
	}
	return nil
}

// notStream says what the stream begins with instead: its first line, at
// most 80 characters, escaped for a terminal.
func notStream(br *bufio.Reader) error {
	b, _ := br.Peek(min(br.Buffered(), 256))
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if r := []rune(line); len(r) > 80 {
		line = string(r[:80]) + "…"
	}
	return fmt.Errorf("%w: it begins \"%s\"", ErrNotStream, event.Sanitize(line))
}

// Header is the stream's header: the facts of the host it comes from.
func (r *StreamReader) Header() Header { return r.hdr }

// Offset is the number of bytes of the stream read so far, up to the end
// of the last chunk taken.
func (r *StreamReader) Offset() int64 { return r.cs.off }

// Next blocks until the next event has arrived. It returns io.EOF once the
// stream has ended cleanly (the writer's Close), an error wrapping
// io.ErrUnexpectedEOF when it ends otherwise (cut inside a chunk, or
// between chunks before the end), or an error naming the byte offset of
// the damage. An event whose kind this build does not know comes with Body
// nil and Raw set.
func (r *StreamReader) Next() (event.Event, error) {
	for r.err == nil {
		if !r.inSeg {
			r.startSegment()
			continue
		}
		b, end, err := r.next()
		if end {
			r.inSeg = false
			continue
		}
		if err != nil {
			r.segFail(err)
			continue
		}
		var ev event.Event
		if err := ev.UnmarshalJSON(bytes.Trim(b, " \t\r\n")); err != nil && ev.Kind == "" {
			continue // no envelope: nothing to hand on (as Iter)
		}
		return ev, nil
	}
	return event.Event{}, r.err
}

// startSegment reads chunks up to the next segment start.
func (r *StreamReader) startSegment() {
	at := r.cs.off
	h, p, err := r.cs.next()
	switch {
	case err == io.EOF && r.ended:
		r.stop(io.EOF)
		return
	case err == io.EOF:
		r.stop(fmt.Errorf("stream ended at byte %d without its end (the stakeout writing it was stopped, or the connection dropped): %w", at, io.ErrUnexpectedEOF))
		return
	case err != nil:
		r.stop(r.chunkErr(at, err))
		return
	}
	r.ended = h.Type == chunkTrailer && h.Len == trailerPayload
	switch h.Type {
	case chunkSegStart:
		if err := r.begin(p, at); err != nil {
			r.stop(err)
			return
		}
		r.inSeg = true
	case chunkSegCont, chunkHeader:
		r.stop(fmt.Errorf("stream damaged at byte %d: a %q chunk where a segment must start", at, h.Type))
	}
	// The index, the trailer and types this build does not know are
	// skipped.
}

// segFail ends the stream inside a segment: at the chunk the segment
// reader found bad or could not read, else at the one being decoded.
func (r *StreamReader) segFail(err error) {
	if r.seg.err != nil {
		err = r.seg.err
	}
	at := r.seg.curOff
	var re *readError
	switch {
	case errors.As(err, &re):
		r.stop(r.chunkErr(at, re.err))
	case errors.Is(err, errSegmentTooBig):
		r.stop(fmt.Errorf("stream damaged at byte %d: its segment decompresses past the reader's limit", at))
	case errors.Is(err, errDamaged) && r.seg.err != nil:
		r.stop(r.chunkErr(at, err))
	default:
		r.stop(fmt.Errorf("stream damaged at byte %d: the chunk does not decompress to records (%v)", at, err))
	}
}

// chunkErr is the error for reading the chunk at offset at.
func (r *StreamReader) chunkErr(at int64, err error) error {
	switch {
	case errors.Is(err, errDamaged):
		return fmt.Errorf("stream damaged at byte %d: %s", at, r.cs.why)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("stream cut short at byte %d, inside a chunk: %w", at, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("reading the stream at byte %d: %w", at, err)
}

func (r *StreamReader) stop(err error) {
	r.err, r.inSeg = err, false
	r.release()
}
