package sessions

import (
	"bytes"
	"io"
)

// One bad chunk must not hide the rest of a long recording: after damage
// the reader looks for the next segment start, a chunk of type 'S' whose
// CRC holds, and reads on from there (a segment is one zstd frame, so
// decoding can begin at any 'S'). The search is bounded per file, so a
// crafted file full of fake chunk headers cannot make opening it slow.

// resyncBudget bounds the search over a Reader's life.
type resyncBudget struct {
	candidates int   // chunk headers tried
	checked    int64 // payload bytes read to check CRCs
}

const (
	maxResyncCandidates = 4096
	maxResyncChecked    = 64 << 20
)

var segStartMagic = []byte(chunkMagic + string(chunkSegStart))

// nextSegStart returns the offset of the first valid 'S' chunk at or after
// from and before end.
func (r *Reader) nextSegStart(from, end int64) (int64, bool) {
	const window = 1 << 20
	buf := make([]byte, window+len(segStartMagic)-1)
	b := &r.resyncBudget
	for off := from; off < end; off += window {
		n, err := r.ra.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if n == 0 && err != nil {
			return 0, false
		}
		for i := 0; ; {
			j := bytes.Index(buf[i:n], segStartMagic)
			if j < 0 || i+j >= window {
				break // one in the overlap is the next window's
			}
			at := off + int64(i+j)
			if b.candidates >= maxResyncCandidates || b.checked >= maxResyncChecked {
				return 0, false
			}
			b.candidates++
			if r.validSegStart(at, end) {
				return at, true
			}
			i += j + 1
		}
		if err == io.EOF {
			return 0, false
		}
	}
	return 0, false
}

func (r *Reader) validSegStart(at, end int64) bool {
	var head [chunkHeaderSize]byte
	if _, err := r.ra.ReadAt(head[:], at); err != nil {
		return false
	}
	h, err := parseChunkHead(head[:])
	if err != nil || h.Type != chunkSegStart || int64(h.Len) > end-at-chunkHeaderSize {
		return false
	}
	r.resyncBudget.checked += int64(h.Len)
	_, _, err = newChunkStream(r.ra, at, end).next()
	return err == nil
}
