package sessions

import (
	"bufio"
	"errors"
	"io"
	"math"
	"slices"
)

// errDamaged marks a chunk that is cut short or fails its checks; the
// stream's offset is then where the damage begins.
var errDamaged = errors.New("damaged chunk")

// chunkStream reads chunks sequentially from off up to end, checking each
// one's CRC. Reads go through one buffer, so walking a file is a few large
// reads rather than two syscalls per chunk.
type chunkStream struct {
	br      *bufio.Reader
	off     int64 // offset of the next chunk
	end     int64
	head    [chunkHeaderSize]byte
	payload []byte
	// pipe: reading a stream (see newPipeChunkStream), which has no end
	// to check lengths against. Running out of bytes exactly between
	// chunks is io.EOF, and inside one io.ErrUnexpectedEOF, not damage;
	// a payload's buffer grows as its bytes arrive.
	pipe bool
	why  string // what was wrong with the last damaged chunk
}

func newChunkStream(ra io.ReaderAt, off, end int64) *chunkStream {
	if end < off {
		end = off
	}
	return &chunkStream{br: bufio.NewReaderSize(io.NewSectionReader(ra, off, end-off), 64<<10), off: off, end: end}
}

// newPipeChunkStream reads chunks from a stream as they arrive, the first
// one at offset off (the bytes before it already taken from br).
func newPipeChunkStream(br *bufio.Reader, off int64) *chunkStream {
	return &chunkStream{br: br, off: off, end: math.MaxInt64, pipe: true}
}

// peekType returns the type of the next chunk without consuming it, or
// io.EOF at the end. Any problem with the header is left for next to report.
func (s *chunkStream) peekType() (byte, error) {
	if s.off >= s.end {
		return 0, io.EOF
	}
	b, err := s.br.Peek(5)
	if err != nil && s.pipe {
		return 0, s.pipeErr(len(b), err)
	}
	if err != nil || string(b[:4]) != chunkMagic {
		return 0, errDamaged
	}
	return b[4], nil
}

// pipeErr is what running out of a pipe's bytes after got bytes of a
// chunk means: its clean end, a chunk cut short, or the pipe's own error.
func (s *chunkStream) pipeErr(got int, err error) error {
	switch {
	case got == 0 && err == io.EOF:
		return io.EOF
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return io.ErrUnexpectedEOF
	}
	return err
}

// next reads the next chunk. It returns io.EOF exactly at end, errDamaged
// for a chunk that is cut short or corrupt (off is left at its start), or
// an I/O error. The payload is only valid until the next call.
func (s *chunkStream) next() (chunkHead, []byte, error) {
	if s.off >= s.end {
		return chunkHead{}, nil, io.EOF
	}
	if n, err := io.ReadFull(s.br, s.head[:]); err != nil {
		if s.pipe {
			return chunkHead{}, nil, s.pipeErr(n, err)
		}
		return chunkHead{}, nil, readErr(err)
	}
	h, err := parseChunkHead(s.head[:])
	if err != nil || int64(h.Len) > s.end-s.off-chunkHeaderSize {
		s.why = "not a chunk header"
		if err == nil || string(s.head[:4]) == chunkMagic {
			s.why = "chunk length over the limit"
		}
		return chunkHead{}, nil, errDamaged
	}
	var p []byte
	if s.pipe {
		p, err = s.readGrowing(int(h.Len))
	} else {
		if cap(s.payload) < int(h.Len) {
			// Bounded by maxChunkPayload and by the bytes really in the file.
			s.payload = make([]byte, h.Len)
		}
		p = s.payload[:h.Len]
		_, err = io.ReadFull(s.br, p)
		err = readErr(err)
	}
	if err != nil {
		return chunkHead{}, nil, err
	}
	if !checkCRC(s.head[:], h, p) {
		s.why = "chunk fails its CRC"
		return chunkHead{}, nil, errDamaged
	}
	s.off += h.size()
	return h, p, nil
}

// readGrowing reads a pipe's payload of n bytes. Its buffer grows with the
// bytes that came, at most doubling, so a header that claims 16 MiB costs
// only what was really sent.
func (s *chunkStream) readGrowing(n int) ([]byte, error) {
	p := s.payload[:0]
	for len(p) < n {
		step := min(n-len(p), max(len(p), 64<<10))
		p = slices.Grow(p, step)
		got, err := io.ReadFull(s.br, p[len(p):len(p)+step])
		p = p[:len(p)+got]
		if err != nil {
			s.payload = p
			return nil, s.pipeErr(1, err) // inside the chunk: its header came
		}
	}
	s.payload = p
	return p, nil
}

// readErr turns running out of bytes into damage; other errors are real
// I/O failures and are passed on.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errDamaged
	}
	return err
}
