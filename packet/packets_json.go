package packet

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
)

// AppendJSON writes a batch exactly as encoding/json would, without
// reflection: at 200k packets/s, reflecting over four number columns cost
// more CPU than capturing the packets (BenchmarkBatchJSON).
func (b PacketBatch) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"iface":`...)
	dst = appendJSONString(dst, b.Iface)
	dst = append(dst, `,"start":`...)
	if ts, err := b.Start.MarshalJSON(); err == nil {
		dst = append(dst, ts...)
	} else {
		dst = append(dst, `"0001-01-01T00:00:00Z"`...)
	}
	dst = append(dst, `,"dt_us":`...)
	dst = appendInts(dst, b.DtUs)
	dst = append(dst, `,"flow":`...)
	dst = appendUints(dst, b.Flow)
	dst = append(dst, `,"flags":`...)
	dst = b.Flags.appendJSON(dst)
	dst = append(dst, `,"len":`...)
	dst = appendUints(dst, b.Len)
	if b.LinkType != 0 {
		dst = append(dst, `,"link_type":`...)
		dst = strconv.AppendUint(dst, uint64(b.LinkType), 10)
	}
	if len(b.Data) > 0 { // rare: --payload
		data, _ := json.Marshal(b.Data)
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	}
	return append(dst, '}')
}

// appendJSONString escapes s as encoding/json does (HTML-safe included).
func appendJSONString(dst []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(dst, q...)
}

// The number columns are written one digit pair (or a table entry) at a
// time into room reserved for the worst case, a block of values at a time:
// with append per value they were most of the recorder's cost in a flood,
// and reserving a whole column's worst case (21 bytes a value, where a
// flood's values take 2 to 4) made the session writer's buffer grow, and
// be copied, far past what it ever held.
const jsonBlock = 1024

func appendInts(dst []byte, v []int64) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for blk := range slices.Chunk(v, jsonBlock) {
		dst = slices.Grow(dst, len(blk)*21)
		buf, n := dst[:cap(dst)], len(dst)
		for _, x := range blk {
			switch {
			case x >= 0 && x < 1000:
				n = putSmall(buf, n, uint32(x))
			case x < 0:
				n += len(strconv.AppendInt(buf[n:n], x, 10))
				buf[n] = ','
				n++
			default:
				n = putUint(buf, n, uint64(x))
				buf[n] = ','
				n++
			}
		}
		dst = buf[:n]
	}
	return closeList(dst, len(v))
}

func appendUints(dst []byte, v []uint32) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for blk := range slices.Chunk(v, jsonBlock) {
		dst = slices.Grow(dst, len(blk)*11)
		buf, n := dst[:cap(dst)], len(dst)
		for _, x := range blk {
			if x < 1000 {
				n = putSmall(buf, n, x)
				continue
			}
			n = putUint(buf, n, uint64(x))
			buf[n] = ','
			n++
		}
		dst = buf[:n]
	}
	return closeList(dst, len(v))
}

// closeList ends a list whose every value was written with a comma after
// it: the last comma becomes the bracket.
func closeList(dst []byte, values int) []byte {
	if values == 0 {
		return append(dst, ']')
	}
	dst[len(dst)-1] = ']'
	return dst
}

// smallNums holds "0," to "999,", each little-endian in a uint32 with its
// length in the top byte (digits and comma take at most 4 bytes, so the
// 4-byte store spills at most into room the next value has anyway).
var smallNums = func() (t [1000]uint64) {
	for v := range t {
		b := strconv.AppendUint(nil, uint64(v), 10)
		b = append(b, ',')
		var w uint64
		for i, c := range b {
			w |= uint64(c) << (8 * i)
		}
		t[v] = w | uint64(len(b))<<32
	}
	return t
}()

// putSmall writes x < 1000 and a comma at buf[n:] with one store.
func putSmall(buf []byte, n int, x uint32) int {
	w := smallNums[x]
	binary.LittleEndian.PutUint32(buf[n:], uint32(w))
	return n + int(w>>32)
}

// digitPairs is "00" to "99".
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// putUint writes x in decimal at buf[n:], which has room, and returns the
// index after it.
func putUint(buf []byte, n int, x uint64) int {
	switch {
	case x < 10:
		buf[n] = byte('0' + x)
		return n + 1
	case x < 100:
		buf[n], buf[n+1] = digitPairs[2*x], digitPairs[2*x+1]
		return n + 2
	case x < 1000:
		r := x % 100
		buf[n], buf[n+1], buf[n+2] = byte('0'+x/100), digitPairs[2*r], digitPairs[2*r+1]
		return n + 3
	case x < 10000:
		q, r := x/100, x%100
		buf[n], buf[n+1], buf[n+2], buf[n+3] = digitPairs[2*q], digitPairs[2*q+1], digitPairs[2*r], digitPairs[2*r+1]
		return n + 4
	}
	return n + len(strconv.AppendUint(buf[n:n], x, 10))
}

// DecodeFlat decodes a batch's members as AppendJSON writes them (see
// event.FlatDecoder): `,"iface":"…","start":"…","dt_us":[…],"flow":[…],
// "flags":[…],"len":[…]` and `,"link_type":N` if any, then `}`. Anything
// else (payload data, spacing, escapes, null, numbers out of range or not
// plain integers) is left to encoding/json: reading a recording was
// decoding its batches' columns through reflection, about 1 µs a packet,
// and this is a few ns a number.
func (b *PacketBatch) DecodeFlat(m []byte) bool {
	iface, m, ok := flatStr(m, `,"iface":`)
	if !ok {
		return false
	}
	ts, m, ok := flatStr(m, `,"start":`)
	if !ok {
		return false
	}
	var start time.Time
	if start.UnmarshalJSON(ts) != nil {
		return false
	}
	var out PacketBatch
	if out.DtUs, m, ok = flatInts(m, `,"dt_us":`); !ok {
		return false
	}
	if out.Flow, m, ok = flatUints(m, `,"flow":`, math.MaxUint32); !ok {
		return false
	}
	flags, m, ok := flatUints(m, `,"flags":`, math.MaxUint8)
	if !ok {
		return false
	}
	if out.Len, m, ok = flatUints(m, `,"len":`, math.MaxUint32); !ok {
		return false
	}
	if rest, has := bytes.CutPrefix(m, []byte(`,"link_type":`)); has {
		v, n, ok := flatUint(rest, math.MaxUint16)
		if !ok {
			return false
		}
		out.LinkType, m = uint16(v), rest[n:]
	}
	if len(m) != 1 || m[0] != '}' {
		return false
	}
	out.Flags = make(ByteNums, len(flags))
	for i, f := range flags {
		out.Flags[i] = uint8(f)
	}
	out.Iface, out.Start = string(iface[1:len(iface)-1]), start
	*b = out
	return true
}

// flatStr cuts `name"…"` off m, for a string of plain printable ASCII,
// and returns it with its quotes.
func flatStr(m []byte, name string) (q, rest []byte, ok bool) {
	m, ok = bytes.CutPrefix(m, []byte(name))
	if !ok || len(m) < 2 || m[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(m); i++ {
		switch c := m[i]; {
		case c == '"':
			return m[:i+1], m[i+1:], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// flatList cuts `name[` off m and returns the list's body (up to its `]`)
// with the number of values in it, and what follows the `]`.
func flatList(m []byte, name string) (list, rest []byte, n int, ok bool) {
	m, ok = bytes.CutPrefix(m, []byte(name))
	if !ok || len(m) < 2 || m[0] != '[' {
		return nil, nil, 0, false
	}
	end := bytes.IndexByte(m, ']')
	if end < 0 {
		return nil, nil, 0, false
	}
	list, rest = m[1:end], m[end+1:]
	if len(list) > 0 {
		n = bytes.Count(list, []byte{','}) + 1
	}
	return list, rest, n, true
}

// flatUint reads a plain JSON integer (no sign, fraction, exponent or
// leading zero) of at most max at the start of m, and how many bytes it
// took.
func flatUint(m []byte, max uint64) (v uint64, n int, ok bool) {
	for n < len(m) && m[n] >= '0' && m[n] <= '9' {
		d := uint64(m[n] - '0')
		if v > (max-d)/10 {
			return 0, 0, false
		}
		v = v*10 + d
		n++
	}
	if n == 0 || n > 1 && m[0] == '0' {
		return 0, 0, false
	}
	return v, n, true
}

func flatUints(m []byte, name string, max uint64) ([]uint32, []byte, bool) {
	list, rest, n, ok := flatList(m, name)
	if !ok {
		return nil, nil, false
	}
	out := make([]uint32, 0, n)
	for len(list) > 0 {
		v, k, ok := flatUint(list, max)
		if !ok {
			return nil, nil, false
		}
		out = append(out, uint32(v))
		if list = list[k:]; len(list) > 0 {
			if list[0] != ',' || len(list) == 1 {
				return nil, nil, false
			}
			list = list[1:]
		}
	}
	return out, rest, true
}

func flatInts(m []byte, name string) ([]int64, []byte, bool) {
	list, rest, n, ok := flatList(m, name)
	if !ok {
		return nil, nil, false
	}
	out := make([]int64, 0, n)
	for len(list) > 0 {
		neg := list[0] == '-'
		if neg {
			list = list[1:]
		}
		lim := uint64(math.MaxInt64)
		if neg {
			lim++
		}
		v, k, ok := flatUint(list, lim)
		if !ok {
			return nil, nil, false
		}
		x := int64(v)
		if neg {
			x = -int64(v-1) - 1 // -2^63 included
		}
		out = append(out, x)
		if list = list[k:]; len(list) > 0 {
			if list[0] != ',' || len(list) == 1 {
				return nil, nil, false
			}
			list = list[1:]
		}
	}
	return out, rest, true
}

// DecodeFlat decodes a "flow" event's members as encoding/json writes them
// (see event.FlatDecoder): `,"id":N,"iface":"…","proto":"…","src":"…",
// "dst":"…"`, `,"vlan":N` and `,"inner_vlan":N` if any, `,"out":true` if
// so, then `}`. A
// recording made before flow storms were aggregated has a flow event for
// nearly every packet of a flood, and decoding them was most of reading it.
func (f *FlowInfo) DecodeFlat(m []byte) bool {
	var out FlowInfo
	m, ok := bytes.CutPrefix(m, []byte(`,"id":`))
	if !ok {
		return false
	}
	id, n, ok := flatUint(m, math.MaxUint32)
	if !ok {
		return false
	}
	out.ID, m = uint32(id), m[n:]
	for _, s := range []struct {
		name string
		to   *string
	}{{`,"iface":`, &out.Iface}, {`,"proto":`, &out.Proto}, {`,"src":`, &out.Src}, {`,"dst":`, &out.Dst}} {
		var q []byte
		if q, m, ok = flatStr(m, s.name); !ok {
			return false
		}
		*s.to = string(q[1 : len(q)-1])
	}
	for _, v := range []struct {
		name string
		to   *uint16
	}{{`,"vlan":`, &out.VLAN}, {`,"inner_vlan":`, &out.InnerVLAN}} {
		if rest, has := bytes.CutPrefix(m, []byte(v.name)); has {
			x, n, ok := flatUint(rest, math.MaxUint16)
			if !ok {
				return false
			}
			*v.to, m = uint16(x), rest[n:]
		}
	}
	if rest, has := bytes.CutPrefix(m, []byte(`,"out":true`)); has {
		out.Out, m = true, rest
	}
	if len(m) != 1 || m[0] != '}' {
		return false
	}
	*f = out
	return true
}
