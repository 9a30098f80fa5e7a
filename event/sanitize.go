package event

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sanitize is the one gate every string from the host or from a file passes
// before it reaches a terminal (TUI, text reports). Process names, paths,
// notes and packet bytes can hold ESC sequences that would repaint the
// screen or set the window title; here they become visible escapes such as
// \x1b, and invalid UTF-8 becomes \xNN. Printable text is unchanged.
func Sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !safeRune(r) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case !safeRune(r):
			if r < 0x100 {
				b.WriteString(`\x`)
				b.WriteString(hex2(byte(r)))
			} else {
				b.WriteString(`\u`)
				b.WriteString(strconv.FormatInt(int64(r)+0x10000, 16)[1:])
			}
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func safeRune(r rune) bool {
	if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
		return false
	}
	// Bidi overrides and other format characters can reorder what is drawn.
	if unicode.Is(unicode.Cf, r) {
		return false
	}
	return true
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// TerminalSafeJSON rewrites JSON text so that it can go to a terminal as
// it is: encoding/json escapes C0 controls but leaves DEL (0x7f), C1
// controls (U+0080 to U+009F, which some terminals obey as CSI, OSC, …) and
// bidi and other format characters raw. Those become \uXXXX escapes, which
// decode to the same string. Outside strings JSON is printable ASCII, so any
// such rune is inside one.
// A byte that is not UTF-8 (in an event of a kind this build does not
// know, written back as the file had it) becomes \ufffd, as encoding/json
// writes one. b is returned as is when there is nothing to escape.
func TerminalSafeJSON(b []byte) []byte {
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf && b[i] != 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if !safeRune(r) || size == 1 {
			break
		}
		i += size
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		if b[i] < utf8.RuneSelf && b[i] != 0x7f {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, `\ufffd`...) // as encoding/json writes a byte that is not UTF-8
		} else if safeRune(r) || r > 0xffff {
			out = append(out, b[i:i+size]...)
		} else {
			out = append(out, `\u`...)
			out = append(out, strconv.FormatInt(int64(r)+0x10000, 16)[1:]...)
		}
		i += size
	}
	return out
}
