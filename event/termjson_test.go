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

// TestTerminalSafeJSONEscapesDEL: DEL (0x7f) is ASCII, which encoding/json
// leaves raw, but a terminal acts on it (it erases); it becomes \u007f. A
// byte that is not UTF-8 (JSON written back as a file had it) becomes
// \ufffd, as encoding/json writes one, never a raw 0x9b (an 8-bit CSI).
func TestTerminalSafeJSONEscapesDEL(t *testing.T) {
	b, err := json.Marshal(map[string]string{"comm": "a\x7fb\u0085c"})
	if err != nil {
		t.Fatal(err)
	}
	out := string(TerminalSafeJSON(b))
	if out != `{"comm":"a\u007fb\u0085c"}` {
		t.Errorf("got %s", out)
	}
	var back map[string]string
	if err := json.Unmarshal([]byte(out), &back); err != nil || back["comm"] != "a\x7fb\u0085c" {
		t.Errorf("round trip: %v %q", err, back)
	}
	raw := []byte("{\"x\":\"\x9b31m\x7f\"}")
	if out := string(TerminalSafeJSON(raw)); out != `{"x":"\ufffd31m\u007f"}` {
		t.Errorf("got %s", out)
	}
}

// TestSanitizeEscapesDELAndC1: the text, Markdown and HTML outputs all go
// through Sanitize, which shows DEL and every C1 control (as UTF-8, U+0080
// to U+009F, or as a lone byte) escaped.
func TestSanitizeEscapesDELAndC1(t *testing.T) {
	for in, want := range map[string]string{
		"a\x7fb":       `a\x7fb`,
		"nel\u0085":    `nel\x85`,
		"csi\u009b":    `csi\x9b`,
		"osc\u009d0;t": `osc\x9d0;t`,
		"byte\x9b":     `byte\x9b`,
		"\u00a0ok":     "\u00a0ok", // NBSP is printable: the first rune past C1
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	for r := rune(0x80); r < 0xa0; r++ {
		if s := Sanitize(string(r)); strings.ContainsRune(s, r) {
			t.Errorf("U+%04X left raw", r)
		}
	}
}
