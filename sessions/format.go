package sessions

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// The byte layout is specified in FORMAT.md; keep the two in step.
const (
	// fileMagic opens every .stk file. The high byte and the CR LF / ^Z / LF
	// tail (as in PNG) catch text-mode and 7-bit mangling of a handed-off file.
	fileMagic    = "\x89STK\r\n\x1a\n"
	preambleSize = len(fileMagic) + 4 // magic, u16 major, u16 minor

	// FormatMajor is the file format's major version. A reader refuses other
	// majors; minors only add things older readers may skip.
	FormatMajor = 1
	// formatMinor 1: an index and trailer may sit in the middle of a file
	// that was appended to (Append); readers skip them.
	formatMinor = 1

	chunkMagic      = "STKC"
	chunkHeaderSize = 36

	// Limits that bound what a reader allocates for an untrusted file. The
	// writer stays well inside them.
	maxChunkPayload  = 16 << 20 // compressed bytes in one chunk
	maxHeaderPayload = 1 << 20  // header JSON
	maxRecordSize    = 1 << 20  // one event's JSON
	// maxSegmentDecoded bounds one segment's decompressed records. The
	// writer ends a segment past 1 MiB, so it stays under 3 MiB.
	maxSegmentDecoded = 8 << 20
	// What reading costs is decoding the event JSON and handing each event
	// to the detectors and reports: about 50 ns per decoded byte (a packet
	// is 8 to 11 bytes of its batch's columns) plus a few µs per event.
	// An Iter counts its work, decoded bytes plus recordWork per record,
	// and may do at most readFloor plus maxReadRatio times the compressed
	// bytes it has taken from the file so far. That is over the Iter's
	// whole life, not per segment, so a file of many tiny segments that
	// each expand to 8 MiB (which the 16384-fold per-segment guard before
	// this one let through: a 109 KB file took 45 s to report) costs work
	// in proportion to its size: a 100 KB file at most 12.9 MB, about
	// 0.7 s of CPU for report or handoff. Real recordings are well inside it: a one-flow UDP
	// flood over lo (bench/udpflood, 160k to 240k packets/s) compresses
	// 30 to 55 fold, 58 for its most regular segment, and a quiet host's
	// events about 8 fold. A flood whose gaps are 95% one value reads
	// back whole (92 fold); one 97% regular (135 fold) or perfectly
	// regular (2,000 fold and more, which no capture we measured came
	// near) loses what is past the limit, reported as damage.
	//
	// recordWork covers what an event costs past its bytes: handoff spends
	// about 6 µs on a 130-byte signal or finding (they make findings and
	// evidence), counted as 194 units, about 10 µs. Events that compress
	// to 4 bytes apiece (a burst of near-identical ones in one flush) cost
	// an honest file 16 of its 128 per byte.
	readFloor        = 64 << 10
	maxReadRatio     = 128
	recordWork       = 64
	maxDecoderWindow = 8 << 20 // zstd window a reader accepts

	trailerPayload = 8  // u64 offset of the index chunk
	indexEntrySize = 32 // see indexEntry
)

// Chunk types. Readers skip types they do not know (after checking the CRC),
// so a minor version may add new ones.
const (
	chunkHeader   byte = 'H' // JSON Header, uncompressed
	chunkSegStart byte = 'S' // first bytes of a segment's zstd frame
	chunkSegCont  byte = 'C' // more bytes of the current segment's frame
	chunkIndex    byte = 'I' // segment table, written on Close
	chunkTrailer  byte = 'T' // last chunk of a closed file: where the index is
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunkHead is the fixed 36-byte header in front of every chunk payload.
type chunkHead struct {
	Type   byte
	Len    uint32 // payload bytes
	Events uint32 // events whose records are in this chunk
	Min    int64  // earliest event time, unix ns (0 when Events == 0)
	Max    int64  // latest event time, unix ns
	CRC    uint32 // crc32c over header bytes 0..31 then the payload
}

// appendChunk appends one complete chunk (header and payload) to dst.
func appendChunk(dst []byte, typ byte, events uint32, minT, maxT int64, payload []byte) []byte {
	var h [chunkHeaderSize]byte
	copy(h[0:4], chunkMagic)
	h[4] = typ
	binary.LittleEndian.PutUint32(h[8:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[12:], events)
	binary.LittleEndian.PutUint64(h[16:], uint64(minT))
	binary.LittleEndian.PutUint64(h[24:], uint64(maxT))
	crc := crc32.Update(0, castagnoli, h[:32])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[32:], crc)
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

var errBadChunk = errors.New("bad chunk header")

// parseChunkHead checks the magic and the payload bound; the CRC can only be
// checked once the payload is read (checkCRC).
func parseChunkHead(b []byte) (chunkHead, error) {
	if len(b) < chunkHeaderSize || string(b[0:4]) != chunkMagic {
		return chunkHead{}, errBadChunk
	}
	h := chunkHead{
		Type:   b[4],
		Len:    binary.LittleEndian.Uint32(b[8:]),
		Events: binary.LittleEndian.Uint32(b[12:]),
		Min:    int64(binary.LittleEndian.Uint64(b[16:])),
		Max:    int64(binary.LittleEndian.Uint64(b[24:])),
		CRC:    binary.LittleEndian.Uint32(b[32:]),
	}
	if h.Len > maxChunkPayload {
		return chunkHead{}, errBadChunk
	}
	return h, nil
}

func checkCRC(rawHead []byte, h chunkHead, payload []byte) bool {
	crc := crc32.Update(0, castagnoli, rawHead[:32])
	return crc32.Update(crc, castagnoli, payload) == h.CRC
}

func (h chunkHead) size() int64 { return chunkHeaderSize + int64(h.Len) }

// indexEntry describes one segment: where its 'S' chunk is and the time span
// and number of its events.
type indexEntry struct {
	Off      int64
	Min, Max int64
	Events   uint32
}

func appendIndex(dst []byte, segs []indexEntry) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(segs)))
	for _, s := range segs {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.Off))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.Min))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.Max))
		dst = binary.LittleEndian.AppendUint32(dst, s.Events)
		dst = binary.LittleEndian.AppendUint32(dst, 0)
	}
	return dst
}

// parseIndex decodes an index payload. Entries must point inside
// [dataStart, dataEnd) in increasing order, so a crafted index can at worst
// make a seek start somewhere that then fails its CRC.
func parseIndex(p []byte, dataStart, dataEnd int64) ([]indexEntry, bool) {
	if len(p) < 4 {
		return nil, false
	}
	n := binary.LittleEndian.Uint32(p)
	if uint64(len(p)-4) != uint64(n)*indexEntrySize {
		return nil, false
	}
	segs := make([]indexEntry, 0, n)
	prev := dataStart - 1
	for i := uint32(0); i < n; i++ {
		e := p[4+int(i)*indexEntrySize:]
		s := indexEntry{
			Off:    int64(binary.LittleEndian.Uint64(e)),
			Min:    int64(binary.LittleEndian.Uint64(e[8:])),
			Max:    int64(binary.LittleEndian.Uint64(e[16:])),
			Events: binary.LittleEndian.Uint32(e[24:]),
		}
		if s.Off <= prev || s.Off >= dataEnd {
			return nil, false
		}
		prev = s.Off
		segs = append(segs, s)
	}
	return segs, true
}

// unixNano is t.UnixNano clamped: UnixNano is undefined outside 1678..2262,
// and an event with a zero time must not wreck the index order.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minIndexTime):
		return minIndexTime.UnixNano()
	case t.After(maxIndexTime):
		return maxIndexTime.UnixNano()
	}
	return t.UnixNano()
}

var (
	minIndexTime = time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)
	maxIndexTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func fromNano(ns int64) time.Time { return time.Unix(0, ns).UTC() }
