package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type testBody struct {
	Device string  `json:"device"`
	Rate   float64 `json:"rate"`
}

func (testBody) EventKind() string { return "test_body" }

func init() { Register("test_body", func() Body { return &testBody{} }) }

func TestRoundTripFlatJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 4, 0, 0, 123456789, time.UTC)
	e := New(at, "iostat", &testBody{Device: "sda", Rate: 1.5})
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-23T04:00:00.123456789Z","probe":"iostat","kind":"test_body","device":"sda","rate":1.5}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, ok := back.Body.(*testBody)
	if !ok || got.Device != "sda" || got.Rate != 1.5 || !back.Time.Equal(at) || back.Probe != "iostat" {
		t.Fatalf("decoded %+v body %+v", back, back.Body)
	}
}

func TestUnknownKindIsKeptNotFatal(t *testing.T) {
	line := `{"time":"2026-11-23T04:00:00Z","probe":"future","kind":"quantum_flux","level":9}`
	var e Event
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	if e.Body != nil || e.Kind != "quantum_flux" {
		t.Fatalf("unknown kind decoded as %+v", e)
	}
	out, _ := json.Marshal(e)
	if string(out) != line {
		t.Fatalf("unknown event not passed through: %s", out)
	}
}

func TestMalformed(t *testing.T) {
	for _, in := range []string{`{`, `{"time":"2026-11-23T04:00:00Z"}`, `{"kind":"finding","severity":"loud"}`, `[]`} {
		var e Event
		if err := json.Unmarshal([]byte(in), &e); err == nil {
			t.Errorf("%s: want error", in)
		}
	}
}

func TestFindingJSON(t *testing.T) {
	e := New(time.Unix(0, 0), "iostat", &Finding{Finding: "io.saturated", Severity: Warn, Summary: "sda slow", Data: map[string]any{"device": "sda"}})
	b, _ := json.Marshal(e)
	if !strings.Contains(string(b), `"severity":"warn"`) || !strings.Contains(string(b), `"finding":"io.saturated"`) {
		t.Fatalf("finding JSON: %s", b)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	f, ok := As[Finding](back)
	if !ok || f.Severity != Warn || f.Data.(map[string]any)["device"] != "sda" {
		t.Fatalf("decoded %+v", back.Body)
	}
}

func TestSanitize(t *testing.T) {
	cases := map[string]string{
		"nginx":                "nginx",
		"evil\x1b]0;pwned\x07": `evil\x1b]0;pwned\x07`,
		"up\x1b[2Aover":        `up\x1b[2Aover`,
		"tab\there\nline":      `tab\there\nline`,
		"bad\xffutf":           `bad\xffutf`,
		"csi\u009b31m":         `csi\x9b31m`,
		"rtl\u202eevil":        `rtl\u202eevil`,
		"café ✓":               "café ✓",
	}
	for in, want := range cases {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 20: "3.0 MiB", 256 << 20: "256.0 MiB", 5 << 40: "5.0 TiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

type fastBody struct{ s string }

func (fastBody) EventKind() string { return "test_fast" }
func (f fastBody) AppendJSON(dst []byte) []byte {
	if f.s == "" {
		return append(dst, "{}"...)
	}
	return append(dst, `{"s":"`+f.s+`"}`...)
}

type badFastBody struct{}

func (badFastBody) EventKind() string            { return "test_badfast" }
func (badFastBody) AppendJSON(dst []byte) []byte { return append(dst, "[1]"...) }

func TestAppenderBodiesSpliceLikeReflectedOnes(t *testing.T) {
	at := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	for body, want := range map[fastBody]string{
		{s: "x"}: `{"time":"2026-11-23T04:00:00Z","probe":"p","kind":"test_fast","s":"x"}`,
		{}:       `{"time":"2026-11-23T04:00:00Z","probe":"p","kind":"test_fast"}`,
	} {
		prefix := []byte("keep:")
		got, err := New(at, "p", body).AppendJSON(prefix)
		if err != nil || string(got) != "keep:"+want {
			t.Errorf("got %s (%v), want keep:%s", got, err, want)
		}
	}
	if out, err := New(at, "p", badFastBody{}).AppendJSON([]byte("keep:")); err == nil || string(out) != "keep:" {
		t.Errorf("non-object body: %q, %v", out, err)
	}
}
