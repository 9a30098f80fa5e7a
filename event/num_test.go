package event_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stakeout/stakeout/event"
	"github.com/stakeout/stakeout/findings"
	"github.com/stakeout/stakeout/packet"
	"github.com/stakeout/stakeout/schema"
)

type numsBody struct {
	F   float64            `json:"f"`
	G   float32            `json:"g"`
	U   uint64             `json:"u"`
	I   int64              `json:"i"`
	N   int                `json:"n"`
	P   *float64           `json:"p,omitempty"`
	M   map[string]float64 `json:"m"`
	A   []float64          `json:"a"`
	Any any                `json:"any"`
	Col []int64            `json:"col"`
}

func (numsBody) EventKind() string { return "test_nums" }

func init() { event.Register("test_nums", func() event.Body { return &numsBody{} }) }

// TestDecodedNumbersAreBounded: a file's 1.7e308, 2^64-1 and -2^63 come out
// of decoding within ±MaxNumber, at most 2^63-1 and at least -(2^63-1),
// wherever they sit (a pointer, a map, a slice, an interface); Raw keeps
// what the file said.
func TestDecodedNumbersAreBounded(t *testing.T) {
	line := `{"time":"2026-11-23T04:00:00Z","probe":"p","kind":"test_nums","f":1.7e308,"g":-3e38,` +
		`"u":18446744073709551615,"i":-9223372036854775808,"n":-9223372036854775808,"p":-1e300,` +
		`"m":{"x":1e300,"y":2},"a":[1e300,-1e20,3],"any":{"deep":[1.7e308]},"col":[-9223372036854775808,5]}`
	var ev event.Event
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	b := ev.Body.(*numsBody)
	want := numsBody{F: event.MaxNumber, G: -event.MaxNumber, U: math.MaxInt64, I: -math.MaxInt64, N: -math.MaxInt64,
		M: map[string]float64{"x": event.MaxNumber, "y": 2}, A: []float64{event.MaxNumber, -event.MaxNumber, 3},
		Col: []int64{-math.MaxInt64, 5}}
	if b.F != want.F || b.G != want.G || b.U != want.U || b.I != want.I || b.N != want.N || b.P == nil || *b.P != -event.MaxNumber ||
		b.M["x"] != want.M["x"] || b.M["y"] != 2 || b.A[0] != want.A[0] || b.A[1] != want.A[1] || b.A[2] != 3 ||
		b.Col[0] != want.Col[0] || b.Col[1] != 5 {
		t.Errorf("decoded %+v (p %v)", *b, b.P)
	}
	if deep := b.Any.(map[string]any)["deep"].([]any)[0]; deep != event.MaxNumber {
		t.Errorf("a number inside an interface: %v", deep)
	}
	if string(ev.Raw) != line {
		t.Errorf("Raw changed: %s", ev.Raw)
	}
	// A packet batch's time steps are bounded to a day, so its running
	// time cannot wrap.
	line = `{"time":"2026-11-23T04:00:00Z","probe":"packets","kind":"packets","iface":"eth0","start":"2026-11-23T04:00:00Z",` +
		`"dt_us":[0,9223372036854775807,-9223372036854775808,7],"flow":[1,1,1,1],"flags":[0,0,0,0],"len":[1,1,1,1]}`
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	day := int64(24 * time.Hour / time.Microsecond)
	if dt := ev.Body.(*packet.PacketBatch).DtUs; dt[1] != day || dt[2] != -day || dt[3] != 7 {
		t.Errorf("dt_us %v", dt)
	}
}

// TestTreeWritesWhatJSONWrites holds MarshalFinite's rebuilding path (taken
// only when json.Marshal refuses a value) to encoding/json's own output, byte
// for byte, on the bodies and finding data stakeout writes: names, order,
// omitempty, embedded structs, pointers, maps and nested events.
func TestTreeWritesWhatJSONWrites(t *testing.T) {
	eta, tru, uid := 12.5, true, 0
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	values := []any{
		schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sda", RPerS: 1.5, UtilPct: 99.9, InFlight: 3, Stalled: true}, {Device: "sdb", Partition: true}}},
		&schema.DiskUsage{IntervalS: 1, Filesystems: []schema.Filesystem{{Mount: "/", SizeBytes: 1 << 40, Bytes: schema.Trend{RatePerS: 1e6, EtaS: &eta, WindowS: 60},
			Writers: []schema.DiskWriter{{PID: 1, Comm: "w", Files: []schema.GrowingFD{{Path: "/f", SizeBytes: 5}}}}}}},
		schema.ModuleLoad{Module: schema.Module{Module: "nf_conntrack", Size: 4096, UsedBy: []string{"nf_nat"}}},
		schema.CoreReadiness{CorePattern: "|/bin/false", PipeTargetExists: &tru, NoCore: []schema.CoreLimit{{PID: 1, Soft: -1}}},
		schema.Signal{PID: 1, TID: 1, Signal: "SIGHUP", Signo: 1, SenderUID: &uid},
		schema.ConntrackSample{Count: 10, Max: 100, IntervalS: 1},
		event.Recording{State: "resumed", PausedS: &eta},
		event.Finding{Finding: "disk.filling", Severity: event.Warn, Summary: "s", Key: "disk.filling /", Since: at,
			Data: findings.DiskFillingData{Mount: "/", RateBytesPerS: 2.5, EtaS: &eta}},
		event.Finding{Finding: "x", Data: map[string]any{"b": 1.5, "a": []any{1e300, "s", nil, true}, "c": map[string]any{}}},
		map[string]any{"findings": []event.Event{event.New(at, "iostat", &schema.IOSample{IntervalS: 1})}, "n": 3},
		struct {
			T    time.Time     `json:"t"`
			D    time.Duration `json:"d"`
			Skip int           `json:"-"`
			Zero time.Time     `json:"zero,omitzero"`
			Keys map[int]string
		}{T: at, D: time.Second, Skip: 4, Keys: map[int]string{2: "b", 1: "a"}},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := event.TreeJSON(v)
		if err != nil || string(got) != string(want) {
			t.Errorf("%T:\n got %s (%v)\nwant %s", v, got, err, want)
		}
	}
}

// TestMarshalFiniteWritesNull: where encoding/json fails on a NaN or an
// infinity, MarshalFinite writes null there and everything else as it is;
// an event's time past year 9999 is written as the last one JSON can hold.
func TestMarshalFiniteWritesNull(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	body := &schema.IOSample{IntervalS: 1, Devices: []schema.DeviceIO{{Device: "sda", RPerS: nan, WPerS: 2, UtilPct: inf}}}
	if _, err := json.Marshal(body); err == nil {
		t.Fatal("encoding/json took a NaN: this test needs another")
	}
	ev := event.New(time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC), "iostat", body)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-23T04:00:00Z","probe":"iostat","kind":"io","interval_s":1,"devices":[{"device":"sda","r_s":null,` +
		`"w_s":2,"rkb_s":0,"wkb_s":0,"r_await":0,"w_await":0,"aqu_sz":0,"util_pct":null,"in_flight":0}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	f := event.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(9000, 0, 0), "x",
		&event.Finding{Finding: "x", Data: map[string]any{"r": -inf, "ok": 1}})
	b, err = f.AppendJSON(nil)
	if err != nil || !strings.Contains(string(b), `"time":"9999-12-31T23:59:59.999999999Z"`) || !strings.Contains(string(b), `"data":{"ok":1,"r":null}`) {
		t.Errorf("%s, %v", b, err)
	}
	doc, err := event.MarshalIndentFinite(map[string]any{"v": []float64{1, nan}}, "", "  ")
	if err != nil || string(doc) != "{\n  \"v\": [\n    1,\n    null\n  ]\n}" {
		t.Errorf("%s, %v", doc, err)
	}
}

// TestArithmeticHelpersSaturate: conversions and sums that Go would wrap
// stop at the ends of the range instead.
func TestArithmeticHelpersSaturate(t *testing.T) {
	for x, want := range map[float64]int64{1e20: math.MaxInt64, -1e20: -math.MaxInt64, math.Inf(1): math.MaxInt64, 9.3e18: math.MaxInt64, 42.9: 42, -7.5: -7} {
		if got := event.SatInt64(x); got != want {
			t.Errorf("SatInt64(%g) = %d, want %d", x, got, want)
		}
	}
	if event.SatInt64(math.NaN()) != 0 || event.Bound(math.NaN()) != 0 || event.Bound(math.Inf(-1)) != -event.MaxNumber || event.Bound(5) != 5 {
		t.Error("NaN or Inf not bounded")
	}
	if d := event.DurationOf(1e18); d != math.MaxInt64 {
		t.Errorf("DurationOf(1e18) = %d", d)
	}
	if d := event.DurationOf(-1.5); d != -1500*time.Millisecond {
		t.Errorf("DurationOf(-1.5) = %v", d)
	}
	if s := event.AddCount(math.MaxInt64, math.MaxInt64); s != math.MaxInt64 {
		t.Errorf("AddCount wrapped: %d", s)
	}
	if s := event.AddCount(math.MaxUint64, 1); s != math.MaxInt64 {
		t.Errorf("AddCount(2^64-1, 1) = %d", s)
	}
	if s := event.AddCount(2, 3); s != 5 {
		t.Errorf("AddCount(2, 3) = %d", s)
	}
	for n, want := range map[int64]string{-1536: "-1.5 KiB", math.MinInt64: "-8.0 EiB", -1: "-1 B"} {
		if got := event.HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
