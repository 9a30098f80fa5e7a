package event

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestTerminalSafeJSON(t *testing.T) {
	in := map[string]string{"s": "a\u009b31m\u202eb\x1b]0;t\x07 é 😀 \u2028\x7f", "plain": "ok"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := TerminalSafeJSON(b)
	for _, raw := range []string{"\u009b", "\u202e", "\x1b", "\x07", "\x7f"} {
		if strings.Contains(string(out), raw) {
			t.Errorf("%q left raw in %s", raw, out)
		}
	}
	if !strings.Contains(string(out), `\u009b31m\u202eb`) || !strings.Contains(string(out), "é 😀") || !strings.Contains(string(out), `\u007f`) {
		t.Errorf("got %s", out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["s"] != in["s"] || back["plain"] != "ok" {
		t.Errorf("round trip: %v %q", err, back)
	}
	clean := []byte(`{"a":"b é"}`)
	if got := TerminalSafeJSON(clean); &got[0] != &clean[0] {
		t.Error("clean JSON was copied")
	}
}
