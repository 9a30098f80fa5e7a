package sessions

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// The format relies on this: a frame cut after any Flush still yields all
// data flushed before the cut (then io.ErrUnexpectedEOF), so a killed
// writer loses only its last second. If a new klauspost version changed
// this, crash recovery would silently lose whole segments.
func TestDecoderYieldsFlushedDataBeforeEOF(t *testing.T) {
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(segmentMaxInput), zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	var cuts, rawAt []int
	for i := 0; i < 40; i++ {
		line := []byte("{\"time\":\"2026-11-23T04:00:00Z\",\"probe\":\"iostat\",\"seq\":" + string(rune('a'+i%26)) + "}\n")
		raw = append(raw, line...)
		enc.Write(line)
		enc.Flush()
		cuts, rawAt = append(cuts, out.Len()), append(rawAt, len(raw))
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	for i, cut := range cuts {
		// Cut at the flush boundary and a few bytes into the next block.
		for _, c := range []int{cut, min(cut+3, out.Len())} {
			dec.Reset(bytes.NewReader(out.Bytes()[:c]))
			got, err := io.ReadAll(dec)
			if !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(got, raw[:rawAt[i]]) {
				t.Fatalf("cut at %d (flush %d): %d bytes, want %d; err %v", c, i, len(got), rawAt[i], err)
			}
		}
	}
}
