package filter

import "strings"

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tOp
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// twoCharOps must be tried before single characters.
var twoCharOps = []string{"&&", "||", "<<", ">>", "<=", ">=", "==", "!="}

const oneCharOps = "()[]:!&|^+-*/%=<>"

// lex splits an expression into words and operators. Like libpcap, a word may
// contain '-' and '.' (tcp-syn, 10-20, 10.0.0.1); ':' belongs to a word only
// when the word is an IPv6 address (two or more colons), so tcp[13:2] splits.
func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		if j := v6Run(s, i); j > i {
			out = append(out, token{tWord, s[i:j], i})
			i = j
			continue
		}
		if isWordStart(c) {
			j := i + 1
			for j < len(s) && isWordChar(s[j]) {
				j++
			}
			out = append(out, token{tWord, s[i:j], i})
			i = j
			continue
		}
		matched := false
		for _, op := range twoCharOps {
			if strings.HasPrefix(s[i:], op) {
				out = append(out, token{tOp, op, i})
				i += 2
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		if strings.IndexByte(oneCharOps, c) >= 0 {
			out = append(out, token{tOp, string(c), i})
			i++
			continue
		}
		return nil, &SyntaxError{Pos: i, Msg: "unexpected character " + quoteByte(c)}
	}
	out = append(out, token{tEOF, "", len(s)})
	return out, nil
}

// v6Run returns the end of an IPv6-looking run at i, or i if there is none.
func v6Run(s string, i int) int {
	j, colons := i, 0
	for j < len(s) && (isHex(s[j]) || s[j] == ':' || s[j] == '.') {
		if s[j] == ':' {
			colons++
		}
		j++
	}
	if colons < 2 || (j < len(s) && isWordChar(s[j])) {
		return i
	}
	return j
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '\\'
}

func isWordChar(c byte) bool {
	return isWordStart(c) && c != '\\' || c == '-' || c == '.'
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(c) + "'"
	}
	return "0x" + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
}
