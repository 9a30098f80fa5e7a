package sessions

import (
	"bufio"
	"errors"
	"io"
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
}

func newChunkStream(ra io.ReaderAt, off, end int64) *chunkStream {
	if end < off {
		end = off
	}
	return &chunkStream{br: bufio.NewReaderSize(io.NewSectionReader(ra, off, end-off), 64<<10), off: off, end: end}
}

// peekType returns the type of the next chunk without consuming it, or
// io.EOF at the end. Any problem with the header is left for next to report.
func (s *chunkStream) peekType() (byte, error) {
	if s.off >= s.end {
		return 0, io.EOF
	}
	b, err := s.br.Peek(5)
	if err != nil || string(b[:4]) != chunkMagic {
		return 0, errDamaged
	}
	return b[4], nil
}

// next reads the next chunk. It returns io.EOF exactly at end, errDamaged
// for a chunk that is cut short or corrupt (off is left at its start), or
// an I/O error. The payload is only valid until the next call.
func (s *chunkStream) next() (chunkHead, []byte, error) {
	if s.off >= s.end {
		return chunkHead{}, nil, io.EOF
	}
	if _, err := io.ReadFull(s.br, s.head[:]); err != nil {
		return chunkHead{}, nil, readErr(err)
	}
	h, err := parseChunkHead(s.head[:])
	if err != nil || int64(h.Len) > s.end-s.off-chunkHeaderSize {
		return chunkHead{}, nil, errDamaged
	}
	if cap(s.payload) < int(h.Len) {
		// Bounded by maxChunkPayload and by the bytes really in the file.
		s.payload = make([]byte, h.Len)
	}
	p := s.payload[:h.Len]
	if _, err := io.ReadFull(s.br, p); err != nil {
		return chunkHead{}, nil, readErr(err)
	}
	if !checkCRC(s.head[:], h, p) {
		return chunkHead{}, nil, errDamaged
	}
	s.off += h.size()
	return h, p, nil
}

// readErr turns running out of bytes into damage; other errors are real
// I/O failures and are passed on.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errDamaged
	}
	return err
}
