package sessions

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stakeout/stakeout/engine"
	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/report"
	"github.com/stakeout/stakeout/schema"
)

// FuzzReader feeds arbitrary bytes to the reader: it must never panic,
// allocate without bound or do more work than the file's size allows,
// whatever a handed-off file contains. Each input is read as it is, and
// again with the CRC of every chunk it can frame made right (fixCRCs), so
// that mutations get past the checksums to decompression, record decoding,
// the detectors and the report, which read what the file says. The seeds
// (a small recording of every probe's events, cut and bent) run in every
// `go test`; `make fuzz` runs it for a minute.
func FuzzReader(f *testing.F) {
	good := fuzzSeed(f)
	full, _ := openBytes(good)
	f.Add(good)
	f.Add(good[:full.dataEnd])      // crashed: no index
	f.Add(good[:full.dataEnd-7])    // torn last chunk
	f.Add(good[:full.dataStart+40]) // one chunk header and a bit
	f.Add(good[:preambleSize])      // signature only
	f.Add([]byte{})
	bent := append([]byte(nil), good...)
	bent[len(bent)/2] ^= 0xff
	f.Add(bent)
	f.Add(fixCRCs(bent)) // the same byte, past its chunk's CRC

	f.Fuzz(func(t *testing.T, b []byte) {
		readFuzzed(t, b)
		if fixed := fixCRCs(b); !bytes.Equal(fixed, b) {
			readFuzzed(t, fixed)
		}
	})
}

// readFuzzed reads b every way stakeout does: the reader and its damage,
// an Iter (within its work bound), a seek, the replay Player, and the
// events through today's detectors into a report in every format.
func readFuzzed(t *testing.T, b []byte) {
	r, err := openBytes(b)
	if err != nil {
		return
	}
	h := r.Header()
	if d := r.Damage(); d != nil {
		_ = d.Error()
	}
	it := r.Iter(time.Time{})
	for {
		if _, ok := it.Next(); !ok {
			break
		}
	}
	_ = it.Err()
	if bound := readFloor + maxReadRatio*int64(len(b)) + recordWork + 1; it.lim.work > bound {
		t.Fatalf("a %d-byte file cost %d work, over %d", len(b), it.lim.work, bound)
	}
	mid := r.Start().Add(r.End().Sub(r.Start()) / 2)
	r.Iter(mid).Next()
	p := NewPlayer(r, time.Minute, nil)
	p.Seek(mid)
	p.SetSpeed(64)
	p.Tick(time.Hour)
	for p.Pending() {
		p.Continue()
	}

	rb := report.NewBuilder()
	engine.Replay(r.Iter(time.Time{}), findings.All(findings.ConfigOf(h.Detectors)), func(ev event.Event) bool {
		rb.Observe(ev)
		return true
	})
	doc := rb.Document(h, "fuzz.stk", r.Start(), r.End().Sub(r.Start()))
	for _, format := range []string{"text", "md", "json"} {
		report.Write(io.Discard, doc, format)
	}
}

// fixCRCs returns a copy of b with the CRC of every chunk it can frame
// recomputed. It walks from the preamble: at a chunk magic whose payload
// fits in b it sets the CRC and steps over the chunk; anywhere else it
// moves on to the next magic, so chunks after a mangled one are fixed too.
func fixCRCs(b []byte) []byte {
	out := append([]byte(nil), b...)
	for off := preambleSize; off+chunkHeaderSize <= len(out); {
		if string(out[off:off+len(chunkMagic)]) != chunkMagic {
			next := bytes.Index(out[off+1:], []byte(chunkMagic))
			if next < 0 {
				break
			}
			off += 1 + next
			continue
		}
		n := int64(binary.LittleEndian.Uint32(out[off+8:]))
		if n > int64(len(out)-off-chunkHeaderSize) {
			off++
			continue
		}
		end := off + chunkHeaderSize + int(n)
		crc := crc32.Update(crc32.Update(0, castagnoli, out[off:off+32]), castagnoli, out[off+chunkHeaderSize:end])
		binary.LittleEndian.PutUint32(out[off+32:], crc)
		off = end
	}
	return out
}

// fuzzSeed is a short recording through the real writer with an event of
// every probe's kinds, in amounts that make today's detectors find things
// (a saturated disk, a periodic flow going silent, a segfault, a table
// filling), recorded findings, a note, a pause, a kind this build does not
// know, and a second segment; closed, then a note appended. Small, so the
// fuzzer stays fast.
func fuzzSeed(f testing.TB) []byte {
	path := filepath.Join(f.TempDir(), "seed.stk")
	hdr := testHeader()
	hdr.Detectors = []byte(`{"signal_burst_window_ns":1000000000}`)
	w, err := Create(path, hdr, manual())
	if err != nil {
		f.Fatal(err)
	}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	write := func(ev event.Event) {
		if err := w.Write(ev); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{"iostat", "packets", "signals", "kmsg", "conntrack", "diskfill"} {
		write(event.New(t0, p, &event.ProbeStatus{Status: event.StatusOK}))
	}
	write(event.New(t0, "packets", &packet.FlowInfo{ID: 1, Iface: "eth0", Proto: "vrrp", Src: "10.0.0.1", Dst: "224.0.0.18"}))
	write(event.New(t0, "packets", &packet.FlowInfo{ID: 2, Iface: "eth0", Proto: "tcp", Src: "10.0.0.1:5432", Dst: "10.0.0.2:40000"}))
	for s := 0; s <= 12; s++ {
		util, await := 8.0, 2.0
		if s >= 3 && s <= 10 {
			util, await = 99.8, 250
		}
		write(event.New(at(s*1000), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{
			{Device: "sdb", WPerS: 850, WKBPerS: 110800, WAwaitMs: await, AquSz: 42, UtilPct: util}}}))
		if s < 7 || s > 10 { // the advert stops for 4 s
			pb := &packet.PacketBatch{Iface: "eth0", Start: at(s * 1000), DtUs: []int64{0, 700}, Flow: []uint32{1, 2},
				Flags: packet.ByteNums{0, packet.FlagRST | packet.FlagACK}, Len: []uint32{60, 54}}
			write(event.New(at(s*1000+1), "packets", pb))
		}
		write(event.New(at(s*1000+2), "conntrack", &schema.ConntrackSample{Count: uint64(50000 + 1500*s), Max: 65536, IntervalS: 1, Drop: uint64(s)}))
		write(event.New(at(s*1000+3), "diskfill", &schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{{
			Mount: "/var", Device: "/dev/sda2", FSType: "ext4", SizeBytes: 10 << 30, UsedBytes: uint64(9<<30 + s<<26),
			AvailBytes: uint64(1<<30 - s<<26), FreeBytes: uint64(1<<30 - s<<26), InodesTotal: 1000, InodesUsed: 10, InodesFree: 990}}}))
		if s == 5 {
			write(event.New(at(5004), "signals", &schema.Signal{PID: 610, TID: 610, Comm: "haproxy", Signal: "SIGSEGV", Signo: 11, Code: "SEGV_MAPERR", Addr: "0x7fdb0426e000"}))
			write(event.New(at(5005), "signals", &schema.Exit{PID: 610, Comm: "haproxy", Status: "killed by SIGSEGV", Signal: "SIGSEGV", Core: true}))
			write(event.New(at(5006), "kmsg", &schema.Kmsg{Level: "info", Priority: 6, Facility: "kern", Seq: 9, KernelUS: 5e6,
				Text: "haproxy[610]: segfault at 7fdb0426e000 ip 00007fdb0403305b sp 00007ffee5ff8988 error 4 in libc.so[7fdb03fe2000+87000]"}))
			write(event.New(at(5007), "detector", &event.Finding{Finding: "io.saturated", Severity: event.Warn, Summary: "recorded, recomputed"}))
			write(event.New(at(5008), "detector", &event.Finding{Finding: "zz.future", Severity: event.Critical, Summary: "from a newer stakeout"}))
			write(event.New(at(5009), event.ProbeNote, event.NewNote("alice", "failover?")))
			write(rawEvent(at(5010), "x", "future", map[string]any{"time": at(5010), "probe": "x", "kind": "future", "v": s}))
		}
		if s == 11 {
			write(event.New(at(11000), "recorder", &event.Recording{State: "paused", Reason: "disk nearly full"}))
		}
		w.Flush()
	}
	write(event.New(at(61000), "iostat", &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sdb", UtilPct: 1}}}))
	w.Flush()
	write(event.New(at(62000), "recorder", &event.Recording{State: "resumed"}))
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	a, err := Append(path, manual())
	if err != nil {
		f.Fatal(err)
	}
	if err := a.Write(event.New(at(6000), event.ProbeNote, event.NewNote("bob", "it came back"))); err != nil {
		f.Fatal(err)
	}
	if err := a.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// TestFuzzSeedAndCRCFixing: the seed makes today's detectors find things,
// so mutations of it reach them; and fixCRCs gets a change past its chunk's
// CRC: a hostname changed in the header makes the file unreadable as it is,
// and read with the new name once fixed.
func TestFuzzSeedAndCRCFixing(t *testing.T) {
	good := fuzzSeed(t)
	r, err := openBytes(good)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	err = engine.Replay(r.Iter(time.Time{}), findings.All(findings.ConfigOf(r.Header().Detectors)), func(ev event.Event) bool {
		if f, ok := event.As[event.Finding](ev); ok {
			found[f.Finding] = true
		}
		return true
	})
	if err != nil || len(found) < 4 {
		t.Fatalf("the seed's findings: %v (%v)", found, err)
	}
	t.Logf("findings: %v", found)

	bent := append([]byte(nil), good...)
	i := bytes.Index(bent, []byte(`"db-7"`))
	bent[i+4] = '8'
	if _, err := openBytes(bent); err == nil {
		t.Fatal("a changed header read despite its CRC")
	}
	r, err = openBytes(fixCRCs(bent))
	if err != nil || r.Header().Hostname != "db-8" {
		t.Fatalf("fixed: %v, host %q", err, r.Header().Hostname)
	}
	if got, err := readAll(t, r, time.Time{}); err != nil || len(got) == 0 {
		t.Fatalf("fixed: %d events, %v", len(got), err)
	}
}

// FuzzReadStream feeds arbitrary bytes to the stream reader, whole and a
// byte per Read (as a slow pipe delivers them): it must never panic, hang
// or do more work than the bytes allow, and must end in io.EOF only for a
// stream that ended cleanly. Inputs are read as they are and with their
// chunks' CRCs made right (fixCRCs). The seeds are the fuzz recording's
// events as a stream, cut and bent.
func FuzzReadStream(f *testing.F) {
	r, err := openBytes(fuzzSeed(f))
	if err != nil {
		f.Fatal(err)
	}
	evs, err := readAll(f, r, time.Time{})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	writeStream(f, &buf, evs, 9)
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:preambleSize+chunkHeaderSize+10])
	f.Add([]byte("bash: stakeout: command not found\n"))
	f.Add([]byte{})
	bent := append([]byte(nil), good...)
	bent[len(bent)/2] ^= 0xff
	f.Add(bent)
	f.Add(fixCRCs(bent))

	f.Fuzz(func(t *testing.T, b []byte) {
		readStreamFuzzed(t, b, bytes.NewReader(b))
		readStreamFuzzed(t, b, iotest.OneByteReader(bytes.NewReader(b)))
		if fixed := fixCRCs(b); !bytes.Equal(fixed, b) {
			readStreamFuzzed(t, fixed, bytes.NewReader(fixed))
		}
	})
}

func readStreamFuzzed(t *testing.T, b []byte, in io.Reader) {
	sr, err := ReadStream(in)
	if err != nil {
		_ = err.Error()
		return
	}
	for {
		_, err = sr.Next()
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		h, herr := parseChunkHead(b[max(0, len(b)-chunkHeaderSize-trailerPayload):])
		if herr != nil || h.Type != chunkTrailer || h.size() != chunkHeaderSize+trailerPayload {
			t.Fatalf("io.EOF for a stream that does not end with a trailer")
		}
	}
	if _, again := sr.Next(); again != err {
		t.Fatalf("Next after the end: %v, then %v", err, again)
	}
	if bound := readFloor + maxReadRatio*int64(len(b)) + recordWork + 1; sr.lim.work > bound {
		t.Fatalf("a %d-byte stream cost %d work, over %d", len(b), sr.lim.work, bound)
	}
}
