package event

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testData stands for a detector's data: a nested struct, a pointer, a
// slice and an omitempty field, as detectors' data have.
type testData struct {
	PID     int           `json:"pid"`
	Comm    string        `json:"comm"`
	GapMs   float64       `json:"gap_ms"`
	EtaS    *float64      `json:"eta_s"`
	Writers []testWriter  `json:"writers"`
	Core    bool          `json:"core,omitempty"`
	Inner   testDataInner `json:"inner"`
}

type testWriter struct {
	PID   int    `json:"pid"`
	Bytes uint64 `json:"bytes"`
}

type testDataInner struct {
	Why string `json:"why,omitempty"`
}

const testTyped = "test.typed"

func init() { RegisterFindingData[testData](testTyped) }

// readBack writes ev in its flat JSON form and decodes it as a reader does.
func readBack(t *testing.T, ev Event) (Event, []byte) {
	t.Helper()
	b, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := got.UnmarshalJSON(b); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return got, b
}

// decodeLine decodes one hand-made line as a reader does.
func decodeLine(t *testing.T, line string) *Finding {
	t.Helper()
	var ev Event
	if err := ev.UnmarshalJSON([]byte(line)); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	f, ok := As[Finding](ev)
	if !ok {
		t.Fatalf("%s: no finding", line)
	}
	return f
}

// A registered name's data reads back as the very value it was made with,
// of the same type, and writes out byte for byte as the live one did.
func TestFindingDataReadsBackTyped(t *testing.T) {
	eta := 41.5
	want := testData{PID: 812, Comm: "gimli <x>", GapMs: 3000.25, EtaS: &eta,
		Writers: []testWriter{{PID: 4410, Bytes: 1 << 40}}, Core: true, Inner: testDataInner{Why: "é"}}
	live := New(time.Unix(1700000000, 5), "p", &Finding{Finding: testTyped, Severity: Warn, Summary: "s", Data: want, Key: "k"})
	got, b := readBack(t, live)
	f, _ := As[Finding](got)
	if _, ok := f.Data.(testData); !ok {
		t.Fatalf("data read back as %T, want testData", f.Data)
	}
	if !reflect.DeepEqual(f.Data, want) {
		t.Fatalf("data read back as %+v, want %+v", f.Data, want)
	}
	again, err := got.MarshalJSON()
	if err != nil || string(again) != string(b) {
		t.Fatalf("written again as\n%s\nwant\n%s (%v)", again, b, err)
	}
	// A hand-made line's layout does not matter, only what it says.
	line := `{"time":"2026-01-01T00:00:00Z","probe":"p","kind":"finding","finding":"test.typed","severity":"warn","summary":"s",` +
		`"data": { "pid": 7, "comm": "c", "gap_ms": 2, "eta_s": null, "writers": [ ], "inner": { } } }`
	if d := decodeLine(t, line).Data; !reflect.DeepEqual(d, testData{PID: 7, Comm: "c", GapMs: 2, Writers: []testWriter{}}) {
		t.Fatalf("spaced-out data read back as %#v", d)
	}
	// Omitted fields (omitempty zero, a nil pointer and slice) fit too.
	got, _ = readBack(t, New(time.Unix(1, 0), "p", &Finding{Finding: testTyped, Data: testData{PID: 1}}))
	if f, _ := As[Finding](got); !reflect.DeepEqual(f.Data, testData{PID: 1}) {
		t.Fatalf("sparse data read back as %#v", f.Data)
	}
}

// Whatever does not fit the registered type reads back as the generic
// value, with no error: nothing the file said is lost or made up.
func TestFindingDataThatDoesNotFitIsGeneric(t *testing.T) {
	const head = `{"time":"2026-01-01T00:00:00Z","probe":"p","kind":"finding","finding":`
	full := `"pid":1,"comm":"c","gap_ms":2,"eta_s":null,"writers":null,"inner":{}`
	for _, tc := range []struct{ why, line string }{
		{"unknown name", head + `"test.unknown","severity":"warn","summary":"s","data":{` + full + `}}`},
		{"pid of another type", head + `"test.typed","severity":"warn","summary":"s","data":{"pid":"812","comm":"c","gap_ms":2,"eta_s":null,"writers":null,"inner":{}}}`},
		{"an array", head + `"test.typed","severity":"warn","summary":"s","data":[1,2]}`},
		{"a number", head + `"test.typed","severity":"warn","summary":"s","data":7}`},
		{"a string", head + `"test.typed","severity":"warn","summary":"s","data":"x"}`},
		{"a newer field", head + `"test.typed","severity":"warn","summary":"s","data":{` + full + `,"new":true}}`},
		{"an older file's missing field", head + `"test.typed","severity":"warn","summary":"s","data":{"pid":1,"comm":"c","gap_ms":2,"eta_s":null,"writers":null}}`},
		{"a NaN written as null", head + `"test.typed","severity":"warn","summary":"s","data":{"pid":1,"comm":"c","gap_ms":null,"eta_s":null,"writers":null,"inner":{}}}`},
		{"a key in another case", head + `"test.typed","severity":"warn","summary":"s","data":{"PID":1,"comm":"c","gap_ms":2,"eta_s":null,"writers":null,"inner":{}}}`},
		{"a repeated key", head + `"test.typed","severity":"warn","summary":"s","data":{"pid":1,"pid":2,"comm":"c","gap_ms":2,"eta_s":null,"writers":null,"inner":{}}}`},
		{"a nested wrong shape", head + `"test.typed","severity":"warn","summary":"s","data":{"pid":1,"comm":"c","gap_ms":2,"eta_s":null,"writers":[{"pid":{}}],"inner":{}}}`},
		{"a number not as encoding/json writes it", head + `"test.typed","severity":"warn","summary":"s","data":{"pid":1,"comm":"c","gap_ms":2e0,"eta_s":null,"writers":null,"inner":{}}}`},
	} {
		f := decodeLine(t, tc.line)
		if _, typed := f.Data.(testData); typed || f.Data == nil {
			t.Errorf("%s: data read back as %#v, want the generic value", tc.why, f.Data)
			continue
		}
		// The generic value is what encoding/json makes of the member.
		var whole struct{ Data any }
		if err := json.Unmarshal([]byte(tc.line), &whole); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(f.Data, whole.Data) {
			t.Errorf("%s: data %#v, want %#v", tc.why, f.Data, whole.Data)
		}
	}
}

// Absent or null data is no data, registered name or not, as before.
func TestFindingDataNullIsNil(t *testing.T) {
	const head = `{"time":"2026-01-01T00:00:00Z","probe":"p","kind":"finding","finding":"test.typed","severity":"info","summary":"s"`
	for _, line := range []string{head + `}`, head + `,"data":null}`, head + `,"data": null }`} {
		if f := decodeLine(t, line); f.Data != nil {
			t.Errorf("%s: data %#v, want nil", line, f.Data)
		}
	}
}

// A damaged finding is still an error where it was one before: the
// envelope's own fields, not the data, decide.
func TestFindingWithBadSeverityStillFails(t *testing.T) {
	line := `{"time":"2026-01-01T00:00:00Z","probe":"p","kind":"finding","finding":"test.typed","severity":"loud","summary":"s","data":{}}`
	var ev Event
	if err := ev.UnmarshalJSON([]byte(line)); err == nil {
		t.Fatal("an unknown severity decoded")
	}
}

// Typed data read from a file is bounded like every other body's numbers.
func TestTypedFindingDataIsBounded(t *testing.T) {
	line := `{"time":"2026-01-01T00:00:00Z","probe":"p","kind":"finding","finding":"test.typed","severity":"warn","summary":"s",` +
		`"data":{"pid":1,"comm":"c","gap_ms":1e+300,"eta_s":-1e+300,"writers":[{"pid":2,"bytes":18446744073709551615}],"inner":{}}}`
	d, ok := decodeLine(t, line).Data.(testData)
	if !ok {
		t.Fatal("data not typed")
	}
	if d.GapMs != MaxNumber || d.EtaS == nil || *d.EtaS != -MaxNumber || d.Writers[0].Bytes != math.MaxInt64 {
		t.Errorf("not bounded: %+v %v", d, *d.EtaS)
	}
}

func TestRegisterFindingDataTwicePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), testTyped) {
			t.Errorf("recovered %v", r)
		}
	}()
	RegisterFindingData[testData](testTyped)
}
