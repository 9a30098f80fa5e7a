package sessions

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/schema"
)

// streamEvents is a minute of a quiet host and then a packet-heavy stretch
// that rolls a segment for its size, with control events among them.
func streamEvents(seconds int) []event.Event {
	rng := rand.New(rand.NewSource(7))
	var evs []event.Event
	for s := 0; s < seconds; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		evs = append(evs, quietSecond(rng, at)...)
		if s%10 == 0 {
			evs = append(evs, event.New(at, "iostat", &event.ProbeStatus{Status: event.StatusOK}))
		}
	}
	return evs
}

// writeStream writes evs to w as a stream, flushing every flushEvery
// events, and closes it.
func writeStream(t testing.TB, w io.Writer, evs []event.Event, flushEvery int) *StreamWriter {
	t.Helper()
	sw, err := NewStreamWriter(w, testHeader(), StreamOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range evs {
		if err := sw.Write(ev); err != nil {
			t.Fatal(err)
		}
		if (i+1)%flushEvery == 0 {
			if err := sw.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	return sw
}

// readStreamAll reads a stream to its end.
func readStreamAll(t testing.TB, r io.Reader) (Header, []event.Event, error) {
	t.Helper()
	sr, err := ReadStream(r)
	if err != nil {
		return Header{}, nil, err
	}
	var out []event.Event
	for {
		ev, err := sr.Next()
		if err != nil {
			return sr.Header(), out, err
		}
		out = append(out, ev)
	}
}

// TestStreamRoundTrip: events written through a StreamWriter come out of a
// StreamReader the same, in order, ending in io.EOF, over io.Pipe (which
// takes nothing until the reader reads) and over a real pipe; and what
// went down the pipe, saved, is a closed recording the file reader opens
// through its index, with the same events.
func TestStreamRoundTrip(t *testing.T) {
	evs := streamEvents(200) // 200 s: four segments by time
	for _, name := range []string{"io.Pipe", "os.Pipe"} {
		t.Run(name, func(t *testing.T) {
			var pr io.ReadCloser
			var pw io.WriteCloser
			if name == "io.Pipe" {
				pr, pw = io.Pipe()
			} else {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				pr, pw = r, w
			}
			var saved bytes.Buffer
			go func() {
				writeStream(t, pw, evs, 7)
				pw.Close()
			}()
			hdr, got, err := readStreamAll(t, io.TeeReader(pr, &saved))
			pr.Close()
			if err != io.EOF {
				t.Fatalf("stream ended with %v, want io.EOF", err)
			}
			if hdr.Hostname != "db-7" || hdr.FormatVersion != FormatMajor {
				t.Fatalf("header %+v", hdr)
			}
			if len(got) != len(evs) {
				t.Fatalf("%d events read, %d written", len(got), len(evs))
			}
			samePrefix(t, got, evs)

			r, err := openBytes(saved.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !r.closed || len(r.segs) < 4 {
				t.Fatalf("saved stream: closed %v with %d segments, want a closed file of 4 or more", r.closed, len(r.segs))
			}
			fromFile, err := readAll(t, r, time.Time{})
			if err != nil || len(fromFile) != len(evs) {
				t.Fatalf("saved stream read as a file: %d events, %v", len(fromFile), err)
			}
			samePrefix(t, fromFile, evs)
		})
	}
}

// nextOrHang reads the next event on a goroutine and fails the test if
// none comes within a generous bound: the test is that it comes without
// the writer writing anything more, not how fast.
func nextOrHang(t *testing.T, sr *StreamReader) event.Event {
	t.Helper()
	type res struct {
		ev  event.Event
		err error
	}
	c := make(chan res, 1)
	go func() {
		ev, err := sr.Next()
		c <- res{ev, err}
	}()
	select {
	case r := <-c:
		if r.err != nil {
			t.Fatalf("Next: %v", r.err)
		}
		return r.ev
	case <-time.After(20 * time.Second):
		t.Fatal("an event written and flushed did not come out of the reader until the writer wrote more")
	}
	return event.Event{}
}

// TestStreamIncremental: an event written and flushed comes out of the
// reader before the writer writes anything more: at a segment's start, in
// the middle of one, as the last event of a segment (whose frame then
// ends) and of the next one. The writer is held while the reader waits.
func TestStreamIncremental(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	sw, err := NewStreamWriter(pw, testHeader(), StreamOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	sr, err := ReadStream(pr)
	if err != nil {
		t.Fatal(err)
	}
	if sr.Header().Hostname != "db-7" {
		t.Fatalf("header %+v", sr.Header())
	}
	steps := []struct {
		at   time.Duration
		what string
	}{
		{0, "first of a segment"},
		{time.Second, "middle of a segment"},
		{2 * time.Second, "middle of a segment"},
		{61 * time.Second, "last of a segment (60 s of event time: its frame ends)"},
		{62 * time.Second, "first of the next segment"},
	}
	for i, st := range steps {
		ev := event.New(t0.Add(st.at), "note", event.NewNote("t", fmt.Sprint(i)))
		if err := sw.Write(ev); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
		got := nextOrHang(t, sr)
		if n, ok := event.As[event.Note](got); !ok || n.Text != fmt.Sprint(i) {
			t.Fatalf("step %d (%s): got %s", i, st.what, jsonOf(t, got))
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if _, err := sr.Next(); err != io.EOF {
		t.Fatalf("after Close: %v, want io.EOF", err)
	}
}

// TestStreamNotAStream: what the other side printed instead of a stream is
// named in the error, first line only, short and escaped; and it is
// refused as soon as a byte differs, without waiting for more.
func TestStreamNotAStream(t *testing.T) {
	cases := []struct{ in, want string }{
		{"bash: stakeout: command not found\n", `not a stakeout stream: it begins "bash: stakeout: command not found"`},
		{"", "not a stakeout stream: it is empty"},
		{"Permission denied (publickey).\r\nsecond line\n", `not a stakeout stream: it begins "Permission denied (publickey)."`},
		{"\x1b]0;owned\x07evil\n", `not a stakeout stream: it begins "\x1b]0;owned\x07evil"`},
		{strings.Repeat("x", 300), `not a stakeout stream: it begins "` + strings.Repeat("x", 80) + `…"`},
		{fileMagic[:3], `not a stakeout stream: it begins "\x89ST"`},
	}
	for _, c := range cases {
		_, err := ReadStream(strings.NewReader(c.in))
		if err == nil || err.Error() != c.want || !errors.Is(err, ErrNotStream) {
			t.Errorf("%q: got %v, want %s", c.in, err, c.want)
		}
	}
	// A remote that printed one byte and hangs.
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("b"))
	done := make(chan error, 1)
	go func() { _, err := ReadStream(pr); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotStream) {
			t.Fatalf("got %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ReadStream waited for more bytes after the first one differed")
	}
	// A later major version.
	b := []byte(fileMagic + "\x02\x00\x00\x00")
	if _, err := ReadStream(bytes.NewReader(b)); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("version 2: %v", err)
	}
}

// streamBytes is a closed stream of evs, flushed every 5 events, and the
// offset of each chunk in it.
func streamBytes(t *testing.T, evs []event.Event) ([]byte, []int64) {
	var buf bytes.Buffer
	writeStream(t, &buf, evs, 5)
	b := buf.Bytes()
	var offs []int64
	for off := int64(preambleSize); off < int64(len(b)); {
		h, err := parseChunkHead(b[off:])
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
		off += h.size()
	}
	return b, offs
}

// TestStreamDamage: a corrupt chunk is refused at its offset after every
// event before it; a chunk whose CRC holds but whose bytes do not
// decompress the same, at its offset; a stream cut inside a chunk wraps
// io.ErrUnexpectedEOF with where the cut chunk began; one that ends
// between chunks before its end mark wraps io.ErrUnexpectedEOF too, and
// only the whole stream ends in io.EOF.
func TestStreamDamage(t *testing.T) {
	evs := streamEvents(30)
	b, offs := streamBytes(t, evs)
	if len(offs) < 10 {
		t.Fatalf("only %d chunks", len(offs))
	}
	mid := offs[len(offs)/2] // a C chunk well inside
	before := 0              // events in the chunks before mid
	for _, off := range offs {
		if off == mid {
			break
		}
		h, _ := parseChunkHead(b[off:])
		before += int(h.Events)
	}
	read := func(what string, b []byte, wantEvents int, wantErr string, is error) {
		t.Helper()
		_, got, err := readStreamAll(t, bytes.NewReader(b))
		t.Logf("%s: %v", what, err)
		if err == nil || !strings.Contains(err.Error(), wantErr) || (is != nil && !errors.Is(err, is)) {
			t.Errorf("%s: error %v, want one with %q (is %v)", what, err, wantErr, is)
		}
		if wantEvents >= 0 && len(got) != wantEvents {
			t.Errorf("%s: %d events before the error, want %d", what, len(got), wantEvents)
		}
		samePrefix(t, got, evs)
	}
	bent := append([]byte(nil), b...)
	bent[mid+chunkHeaderSize+3] ^= 0x55
	read("a bad CRC", bent, before, fmt.Sprintf("stream damaged at byte %d: chunk fails its CRC", mid), nil)

	garbled := append([]byte(nil), b...)
	h, _ := parseChunkHead(garbled[mid:])
	rand.New(rand.NewSource(1)).Read(garbled[mid+chunkHeaderSize : mid+h.size()])
	read("a payload that is not zstd", fixCRCs(garbled), -1, fmt.Sprintf("stream damaged at byte %d: ", mid), nil)

	bad := append([]byte(nil), b...)
	copy(bad[mid:], "XXXX")
	read("a broken chunk magic", bad, before, fmt.Sprintf("stream damaged at byte %d: not a chunk header", mid), nil)

	read("cut inside a chunk", b[:mid+chunkHeaderSize+2], before,
		fmt.Sprintf("stream cut short at byte %d, inside a chunk", mid), io.ErrUnexpectedEOF)
	read("cut inside a chunk header", b[:mid+7], before,
		fmt.Sprintf("stream cut short at byte %d, inside a chunk", mid), io.ErrUnexpectedEOF)
	read("ended between chunks, not closed", b[:mid], before,
		fmt.Sprintf("stream ended at byte %d without its end", mid), io.ErrUnexpectedEOF)
	idx := offs[len(offs)-2] // the index: every event came, but not the end
	read("ended before its index", b[:idx], len(evs), "without its end", io.ErrUnexpectedEOF)
	read("cut inside its header", b[:preambleSize+20], 0, "stream cut short at byte 12, inside a chunk", io.ErrUnexpectedEOF)

	_, got, err := readStreamAll(t, bytes.NewReader(b))
	if err != io.EOF || len(got) != len(evs) {
		t.Fatalf("whole: %d events, %v", len(got), err)
	}
}

// bulky is an event of about 2 KB that zstd cannot shrink much.
func bulky(rng *rand.Rand, at time.Time) event.Event {
	pad := make([]byte, 1500)
	rng.Read(pad)
	return rawEvent(at, "packets", "bulky_future", map[string]any{
		"time": at.Format(time.RFC3339Nano), "probe": "packets", "kind": "bulky_future", "pad": pad})
}

// TestStreamStalledPipe: while the pipe takes nothing, a writer under load
// never blocks and holds a bounded amount of memory: events that are not
// control events are dropped and counted; control events are all kept. Once
// the pipe moves, a stream.dropped event says how many were dropped, of
// which probes, and every control event arrives, in order.
func TestStreamStalledPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	const queue = 1 << 20
	sw, err := NewStreamWriter(pw, testHeader(), StreamOptions{FlushEvery: -1, QueueBytes: queue})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	runtime.GC()
	var ms0, ms runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var peak uint64
	const n, controlEvery = 40000, 1000 // 80 MB of events offered
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i := 0; i < n; i++ {
			at := t0.Add(time.Duration(i) * time.Millisecond)
			ev := bulky(rng, at)
			if i%controlEvery == 0 {
				ev = event.New(at, schema.ProbeRemote, &schema.StreamPong{ID: uint64(i)})
			}
			if err := sw.Write(ev); err != nil {
				t.Error(err)
				return
			}
			if i%controlEvery == 0 {
				sw.Flush()
			}
			if i%2000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}()
	select {
	case <-written:
	case <-time.After(2 * time.Minute):
		t.Fatal("Write blocked on a stalled pipe")
	}
	if grown := int64(peak) - int64(ms0.HeapAlloc); grown > 24<<20 {
		t.Errorf("heap grew by %d MiB while the pipe was stalled", grown>>20)
	}
	dropped := sw.Dropped()
	if dropped < n/2 {
		t.Errorf("only %d of %d events dropped with the pipe stalled", dropped, n)
	}
	if b := sw.Backlog(); b > queue+pendingMax+64<<10 {
		t.Errorf("backlog %d bytes, bound %d", b, queue)
	}
	t.Logf("dropped %d of %d; backlog %d bytes; heap grew by at most %d KiB", dropped, n, sw.Backlog(), (int64(peak)-int64(ms0.HeapAlloc))>>10)

	// The pipe moves again.
	type res struct {
		evs []event.Event
		err error
	}
	c := make(chan res, 1)
	go func() {
		_, evs, err := readStreamAll(t, pr)
		c <- res{evs, err}
	}()
	// One more event after the pipe has drained: the drop record comes
	// before it.
	for sw.Backlog() > queue/2 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := sw.Write(bulky(rng, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-c
	if r.err != io.EOF {
		t.Fatalf("read: %v", r.err)
	}
	var pongs []uint64
	var counted uint64
	var records int
	for _, ev := range r.evs {
		if p, ok := event.As[schema.StreamPong](ev); ok {
			pongs = append(pongs, p.ID)
		}
		if d, ok := event.As[schema.StreamDropped](ev); ok {
			counted += d.Events
			records++
			if d.ByProbe["packets"] != d.Events || d.Since.After(d.Until) || d.Since.Before(t0) {
				t.Errorf("drop record %+v", d)
			}
		}
	}
	if len(pongs) != n/controlEvery {
		t.Errorf("%d control events of %d arrived", len(pongs), n/controlEvery)
	}
	for i, id := range pongs {
		if id != uint64(i*controlEvery) {
			t.Fatalf("control events out of order: %v", pongs)
		}
	}
	if counted != dropped || records == 0 {
		t.Errorf("drop records count %d in %d records, the writer dropped %d", counted, records, dropped)
	}
	if want := n - int(dropped) + records + 1; len(r.evs) != want {
		t.Errorf("%d events arrived, want %d kept + %d records + 1", len(r.evs), n-int(dropped), records)
	}
}

// TestStreamBrokenPipe: when the reader goes away, the writer reports the
// pipe's error (EPIPE), closes Broken, and Write and Close return at once.
func TestStreamBrokenPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sw, err := NewStreamWriter(pw, testHeader(), StreamOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	pr.Close()
	rng := rand.New(rand.NewSource(5))
	for i := 0; sw.Err() == nil; i++ {
		sw.Write(bulky(rng, t0))
		sw.Flush()
		if i > 100000 {
			t.Fatal("no error writing to a pipe with no reader")
		}
	}
	select {
	case <-sw.Broken():
	default:
		t.Fatal("Broken not closed")
	}
	if err := sw.Write(bulky(rng, t0)); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Write after EPIPE: %v", err)
	}
	if err := sw.Close(); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Close after EPIPE: %v", err)
	}
	pw.Close()
}

// TestStreamFlushTimer: with the default FlushEvery, an event reaches the
// reader with no Flush called.
func TestStreamFlushTimer(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	sw, err := NewStreamWriter(pw, testHeader(), StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	sr, err := ReadStream(pr)
	if err != nil {
		t.Fatal(err)
	}
	sw.Write(event.New(t0, "note", event.NewNote("t", "tick")))
	if n, ok := event.As[event.Note](nextOrHang(t, sr)); !ok || n.Text != "tick" {
		t.Fatal("wrong event")
	}
}

// TestStreamHeaderOffsets: the index a closed stream ends with points at
// its segments' S chunks, so a saved stream seeks like a file.
func TestStreamHeaderOffsets(t *testing.T) {
	b, offs := streamBytes(t, streamEvents(130))
	r, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.segs {
		if b[s.Off+4] != chunkSegStart {
			t.Fatalf("index entry at %d is no segment start", s.Off)
		}
	}
	trailer := offs[len(offs)-1]
	if idx := int64(binary.LittleEndian.Uint64(b[trailer+chunkHeaderSize:])); idx != offs[len(offs)-2] {
		t.Fatalf("trailer points at %d, index at %d", idx, offs[len(offs)-2])
	}
	got, err := readAll(t, r, t0.Add(100*time.Second))
	if err != nil || len(got) == 0 || got[0].Time.Before(t0.Add(100*time.Second)) {
		t.Fatalf("seek into a saved stream: %d events, %v", len(got), err)
	}
}
