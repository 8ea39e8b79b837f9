package message

import (
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"sort"
	"strings"
	"unicode/utf8"
)

// Line lengths of RFC 5322 section 2.1.1: a line SHOULD hold at most 78
// characters and MUST hold at most 998, CRLF excluded.
const (
	foldAt   = 78
	maxLine  = 998
	maxWord  = 900 // a longer word of unstructured text is encoded, so that it can be folded
	wordLen  = 75  // the longest encoded word (RFC 2047 section 2)
	paramLen = 60  // the longest piece of an RFC 2231 parameter value
)

// checkFieldName reports whether name can name a header field: printable
// ASCII without a colon (RFC 5322 section 2.2).
func checkFieldName(name string) error {
	if name == "" {
		return errors.New("a header field needs a name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return fmt.Errorf("header field name %q holds %q: a name is printable ASCII without a colon", name, c)
		}
	}
	return nil
}

// checkValue refuses what no header field value may hold.
func checkValue(name, value string) error {
	if i := strings.IndexAny(value, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("the %s field holds %q: CR, LF and NUL are not allowed in a header field", name, value[i])
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("the %s field is not valid UTF-8", name)
	}
	return nil
}

// field returns the header field "name: value" folded into lines of at
// most 78 characters where white space allows, each ended by CRLF. It
// folds only at a single space between two other characters, so that
// unfolding (which joins lines with one space) gives value back.
func field(name, value string) (string, error) {
	v, err := foldValue(name, value)
	if err != nil {
		return "", err
	}
	return name + ": " + v + "\r\n", nil
}

// foldValue returns value with CRLF inserted before the spaces where
// field folds it.
func foldValue(name, value string) (string, error) {
	col := len(name) + 2
	if col+len(value) <= foldAt {
		return value, nil
	}
	var b strings.Builder
	lineStart := 0 // index in value where the current line starts
	lastFold := -1 // the last space in the current line where a fold may go
	for i := 0; i < len(value); i++ {
		if value[i] == ' ' && i > 0 && i+1 < len(value) && !isWSP(value[i-1]) && !isWSP(value[i+1]) && i > lineStart {
			if col+(i-lineStart) > foldAt && lastFold > lineStart {
				b.WriteString(value[lineStart:lastFold])
				b.WriteString("\r\n")
				col, lineStart = 0, lastFold
			}
			lastFold = i
		}
	}
	if col+(len(value)-lineStart) > foldAt && lastFold > lineStart {
		b.WriteString(value[lineStart:lastFold])
		b.WriteString("\r\n")
		lineStart = lastFold
	}
	b.WriteString(value[lineStart:])
	out := b.String()
	first := true
	for line := range strings.SplitSeq(out, "\r\n") {
		n := len(line)
		if first {
			n += len(name) + 2
			first = false
		}
		if n > maxLine {
			return "", fmt.Errorf("the %s field has a line of %d characters with nowhere to fold it (the limit is %d)", name, n, maxLine)
		}
	}
	return out, nil
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// encodeText encodes unstructured text, such as a Subject, for a header
// field: words of printable ASCII stay as they are, and each run of words
// holding anything else (UTF-8, control characters, something that looks
// like an encoded word, or a word too long to fold) becomes RFC 2047
// encoded words. Decoding the result as mime.WordDecoder.DecodeHeader does
// gives value back. White space around value is dropped.
func encodeText(value string) string {
	value = strings.Trim(value, " \t")
	if value == "" {
		return ""
	}
	type token struct {
		s      string
		space  bool
		encode bool
	}
	var tokens []token
	for i := 0; i < len(value); {
		j := i
		space := isWSP(value[i])
		for j < len(value) && isWSP(value[j]) == space {
			j++
		}
		w := value[i:j]
		// White space other than one space cannot be folded without
		// changing it: it is encoded, with the words around it.
		tokens = append(tokens, token{s: w, space: space, encode: space && w != " " || !space && needsEncoding(w)})
		i = j
	}
	for i, t := range tokens {
		if t.space && t.encode {
			tokens[i-1].encode, tokens[i+1].encode = true, true // value is trimmed: words stand on both sides
		}
	}
	var b strings.Builder
	for i := 0; i < len(tokens); i++ {
		if !tokens[i].encode {
			b.WriteString(tokens[i].s)
			continue
		}
		// A run of tokens to encode takes the spaces between them with
		// it: the white space between two encoded words is dropped when
		// they are decoded.
		j := i
		for j+1 < len(tokens) {
			if tokens[j+1].encode {
				j++
			} else if tokens[j+1].space && j+2 < len(tokens) && tokens[j+2].encode {
				j += 2
			} else {
				break
			}
		}
		var run strings.Builder
		for _, u := range tokens[i : j+1] {
			run.WriteString(u.s)
		}
		b.WriteString(encodeWords(run.String()))
		i = j
	}
	return b.String()
}

// needsEncoding reports whether a word of unstructured text must be
// written as an encoded word.
func needsEncoding(w string) bool {
	if len(w) > maxWord || strings.Contains(w, "=?") {
		return true
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 0x20 || c >= 0x7f {
			return true
		}
	}
	return false
}

// encodeWords encodes s as UTF-8 encoded words of at most 75 characters,
// separated by spaces: Q encoding when at least half of s is ASCII, B otherwise.
func encodeWords(s string) string {
	ascii := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x20 && s[i] < 0x7f {
			ascii++
		}
	}
	enc := mime.BEncoding
	if ascii*2 >= len(s) {
		enc = mime.QEncoding
	}
	if out := enc.Encode("utf-8", s); out != s {
		return out
	}
	// mime leaves printable ASCII as it is; here it must be encoded all
	// the same (it looks like an encoded word, or is too long to fold).
	return bWords(s)
}

// bWords encodes s as B encoded words of at most 72 characters, separated
// by spaces; they hold no character that must be quoted in a quoted string.
func bWords(s string) string {
	var words []string
	for len(s) > 0 {
		n := min(len(s), 45) // 60 characters of base64: a word of 72
		if n < len(s) {
			// Split before the character s[n] is part of; invalid UTF-8
			// has no such start, and is split where it stands.
			for k := n; k > 0 && k > n-utf8.UTFMax; k-- {
				if utf8.RuneStart(s[k]) {
					n = k
					break
				}
			}
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

// mediaType returns a Content-Type or Content-Disposition value: the type
// and its parameters in the order of their names. A value of plain ASCII
// that fits is written as a token or a quoted string; any other (UTF-8, or
// too long) is written as RFC 2231 does, in pieces of at most 60
// characters, so that every piece can be folded onto a line of its own.
func mediaType(t string, params map[string]string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(t)
	for _, k := range names {
		for _, p := range param(k, params[k]) {
			b.WriteString("; ")
			b.WriteString(p)
		}
	}
	return b.String()
}

// param returns the parameter name=value as one or more name=value pieces.
func param(name, value string) []string {
	plain := true
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c >= 0x7f {
			plain = false
			break
		}
	}
	if plain && len(name)+len(value)+3 <= paramLen+10 {
		if value != "" && isToken(value) {
			return []string{name + "=" + value}
		}
		return []string{name + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`}
	}
	var pieces []string
	var cur strings.Builder
	cur.WriteString("utf-8''")
	for i := 0; i < len(value); i++ {
		c := value[i]
		enc := string(c)
		if !isAttrChar(c) {
			enc = fmt.Sprintf("%%%02X", c)
		}
		if cur.Len()+len(enc) > paramLen {
			pieces = append(pieces, cur.String())
			cur.Reset()
		}
		cur.WriteString(enc)
	}
	pieces = append(pieces, cur.String())
	if len(pieces) == 1 {
		return []string{name + "*=" + pieces[0]}
	}
	out := make([]string, len(pieces))
	for i, p := range pieces {
		out[i] = fmt.Sprintf("%s*%d*=%s", name, i, p)
	}
	return out
}

// isToken reports whether s is a token of RFC 2045: no space, control
// character or tspecial.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// isAttrChar reports whether c may stand unencoded in an RFC 2231 value.
func isAttrChar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`*'%()<>@,;:\"/[]?=`, c) < 0
}
