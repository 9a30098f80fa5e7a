package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// flatTestBody decodes its members itself, as a packet batch does, so the
// flat path (decodeFlat) is the one that reads the envelope.
type flatTestBody struct {
	N int `json:"n"`
}

func (flatTestBody) EventKind() string { return "test_flat" }

func (b *flatTestBody) DecodeFlat(members []byte) bool {
	rest, ok := strings.CutPrefix(string(members), `,"n":`)
	if !ok || !strings.HasSuffix(rest, "}") {
		return false
	}
	return json.Unmarshal([]byte(strings.TrimSuffix(rest, "}")), &b.N) == nil
}

func init() { Register("test_flat", func() Body { return &flatTestBody{} }) }

func TestHostMembersRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 4, 0, 0, 5, time.UTC)
	raw := at.Add(3 * time.Second)
	for _, tc := range []struct {
		ev   Event
		want string
	}{
		{New(at, "iostat", &testBody{Device: "sda"}),
			`{"time":"2026-12-06T04:00:00.000000005Z","probe":"iostat","kind":"test_body","device":"sda","rate":0}`},
		{Event{Time: at, Host: "r1", Probe: "iostat", Kind: "test_body", Body: &testBody{Device: "sda"}},
			`{"time":"2026-12-06T04:00:00.000000005Z","host":"r1","probe":"iostat","kind":"test_body","device":"sda","rate":0}`},
		{Event{Time: at, Host: "r1", HostTime: raw, Probe: "x", Kind: "test_flat", Body: &flatTestBody{N: 7}},
			`{"time":"2026-12-06T04:00:00.000000005Z","host":"r1","host_time":"2026-12-06T04:00:03.000000005Z","probe":"x","kind":"test_flat","n":7}`},
	} {
		b, err := json.Marshal(tc.ev)
		if err != nil || string(b) != tc.want {
			t.Fatalf("got  %s (%v)\nwant %s", b, err, tc.want)
		}
		var back Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Host != tc.ev.Host || !back.HostTime.Equal(tc.ev.HostTime) || !back.Time.Equal(at) || back.Body == nil {
			t.Fatalf("%s read back as %+v", b, back)
		}
		if _, flat := back.Body.(*flatTestBody); flat && back.Body.(*flatTestBody).N != 7 {
			t.Fatalf("flat body %+v", back.Body)
		}
	}
}

// An event of a kind this build does not know is written back from Raw;
// once it is given a host (a merge) or moved (a clock correction), Raw
// must not be written as it was read.
func TestUnknownKindIsRestampedWhenItsHostOrTimeChanges(t *testing.T) {
	line := `{"time":"2026-12-06T04:00:00Z","probe":"future","kind":"quantum_flux","level":9}`
	var e Event
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	if out, _ := json.Marshal(e); string(out) != line {
		t.Fatalf("untouched event not passed through: %s", out)
	}
	e.Host = "r2"
	e.HostTime = e.Time
	e.Time = e.Time.Add(-3 * time.Second)
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back Event
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.Host != "r2" || !back.Time.Equal(e.Time) || !back.HostTime.Equal(e.HostTime) || !strings.Contains(string(out), `"level":9`) {
		t.Fatalf("restamped as %s", out)
	}
}

// hostNamed names its host in a Go field only; the envelope says it in JSON.
type hostNamed struct {
	Host string `json:"-"`
	N    int    `json:"n"`
}

func (hostNamed) EventKind() string      { return "test_host_named" }
func (h *hostNamed) SetHost(name string) { h.Host = name }

func init() { Register("test_host_named", func() Body { return &hostNamed{} }) }

func TestAHostCarrierGetsItsHostFromTheEnvelope(t *testing.T) {
	ev := Event{Time: time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC), Host: "r1", Probe: "remote", Kind: "test_host_named", Body: &hostNamed{Host: "r1", N: 1}}
	b, err := json.Marshal(ev)
	if err != nil || strings.Count(string(b), `"host"`) != 1 {
		t.Fatalf("%s (%v): want one host member", b, err)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if h, ok := back.Body.(*hostNamed); !ok || h.Host != "r1" || h.N != 1 {
		t.Fatalf("read back %+v", back.Body)
	}
}
