package handoff

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ReplayCommand is the shell command that replays file from the window's
// start: `stakeout replay FILE`, with `--since` when the window starts after
// the recording does. FILE is quoted for the shell, and a name that starts
// with a dash gets "./" in front, or the command line would take it for a
// flag (`stakeout replay -e.stk` fails: unknown shorthand flag 'e').
func ReplayCommand(file string, from, start time.Time) string {
	return ReplayCommandOf([]string{file}, from, start)
}

// ReplayCommandOf is ReplayCommand for several files read as one.
func ReplayCommandOf(files []string, from, start time.Time) string {
	cmd := "stakeout replay"
	for _, file := range files {
		if file == "" {
			file = "FILE"
		}
		if strings.HasPrefix(file, "-") {
			file = "./" + file // only a relative path starts with a dash
		}
		cmd += " " + ShellQuote(file)
	}
	if from.After(start) {
		cmd += " --since " + from.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return cmd
}

// ShellQuote quotes s as one word for a POSIX shell (bash, zsh and dash
// alike): unchanged if it is plainly safe, else in single quotes. A string
// holding control characters, invalid UTF-8 or invisible format characters
// is written as $'…' with \xNN escapes instead, so the command stays one
// printable line that pastes back to exactly the same bytes (bash and zsh;
// dash lacks $'…').
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !shellSafe(r) }) < 0 {
		return s
	}
	if !needsEscapes(s) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, unicode.Is(unicode.Cf, r):
			for _, c := range []byte(s[i : i+size]) {
				b.WriteString(`\x`)
				b.WriteString(hexByte(c))
			}
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteString("'")
	return b.String()
}

func shellSafe(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("@%+=:,./_-", r))
}

func needsEscapes(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r) {
			return true
		}
		i += size
	}
	return false
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}
