package message

import (
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
)

// ErrInvalidAddress is wrapped by every error about an address that breaks
// the rules of CheckAddress or cannot be parsed.
var ErrInvalidAddress = errors.New("invalid address")

// Address is a mailbox: an optional display name and the address itself.
type Address struct {
	// Name is the display name, in UTF-8; empty for none.
	Name string
	// Addr is the address as it goes in an SMTP envelope: "alice@example.com",
	// a quoted local part such as `"a b"@example.com`, or a bare local name
	// such as "root", which a submission server completes with its domain.
	Addr string
}

// String returns the address as a header field holds it: Addr alone, or
// the name (quoted, or RFC 2047-encoded when it is not ASCII) and <Addr>.
func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	var name string
	switch {
	case !needsEncoding(a.Name):
		// net/mail knows when a name must be quoted; it is given a
		// stand-in address so that bare local names are written as they are.
		const stand = "x@x.invalid"
		name = strings.TrimSuffix((&mail.Address{Name: a.Name, Address: stand}).String(), " <"+stand+">")
	case strings.ContainsAny(a.Name, `"#$%&'(),.:;<>@[]^{|}~\`+"`"):
		name = bWords(a.Name) // characters a Q-encoded word in a name cannot hold (RFC 2047 section 5)
	default:
		name = mime.QEncoding.Encode("utf-8", a.Name)
	}
	for w := range strings.FieldsSeq(name) {
		if len(w) > maxWord {
			name = bWords(a.Name) // a word this long could not be folded
			break
		}
	}
	return name + " <" + a.Addr + ">"
}

// maxAddress is the longest address: a path of RFC 5321 holds 256 bytes, angle brackets included.
const maxAddress = 254

var addressParser = &mail.AddressParser{WordDecoder: &mime.WordDecoder{}}

// CheckAddress reports whether addr is an address an envelope can carry:
// an addr-spec of RFC 5322 as net/mail reads it (a UTF-8 local part or
// domain included, as SMTPUTF8 allows), or a bare local name such as
// "root". It refuses CR, LF and NUL, white space and angle brackets outside
// a quoted local part, and the empty string (the null sender "<>" is not an
// address: callers that allow it test for "" first). These are the rules
// of every address this package reads, from headers, envelopes and
// Messages alike.
func CheckAddress(addr string) error {
	if addr == "" {
		return fmt.Errorf("an empty address: %w", ErrInvalidAddress)
	}
	if i := strings.IndexAny(addr, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("address %q holds %q: CR, LF and NUL are not allowed in an address: %w", addr, addr[i], ErrInvalidAddress)
	}
	if len(addr) > maxAddress {
		return fmt.Errorf("address %.40q... is %d bytes long: an SMTP path holds at most %d (RFC 5321 section 4.5.3.1.3): %w",
			addr, len(addr), maxAddress, ErrInvalidAddress)
	}
	if simpleAddress(addr) {
		return nil // the common case, which net/mail would take too
	}
	rest := addr
	if strings.HasPrefix(rest, `"`) {
		end := closingQuote(rest)
		if end < 0 {
			return fmt.Errorf("address %q has an unclosed quote: %w", addr, ErrInvalidAddress)
		}
		rest = rest[end+1:]
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' {
			return fmt.Errorf("address %q holds %q: white space, control characters, < and > are not allowed outside quotes: %w",
				addr, c, ErrInvalidAddress)
		}
	}
	probe := addr
	if !strings.Contains(rest, "@") {
		probe += "@local.invalid" // a bare local name: checked as the local part of an address
	}
	if _, err := mail.ParseAddress("<" + probe + ">"); err != nil {
		return fmt.Errorf("%q is not an address such as alice@example.com: %v: %w", addr, strings.TrimPrefix(err.Error(), "mail: "), ErrInvalidAddress)
	}
	return nil
}

// simpleAddress reports whether addr is a dot-atom of ASCII letters,
// digits and the other atext characters of RFC 5322, "@", and a host name
// of letters, digits and hyphens in dot-separated labels: most addresses,
// which CheckAddress takes without a full parse.
func simpleAddress(addr string) bool {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return false
	}
	dotAtom := func(s string, atext func(byte) bool) bool {
		if s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] != '.' && !atext(s[i]) {
				return false
			}
		}
		return true
	}
	alnum := func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }
	local := func(c byte) bool { return alnum(c) || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0 }
	host := func(c byte) bool { return alnum(c) || c == '-' }
	return dotAtom(addr[:at], local) && dotAtom(addr[at+1:], host)
}

// closingQuote returns the index of the quote that closes the quoted
// string s starts with, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// ParseAddress parses one address such as "Alice <alice@example.com>",
// "alice@example.com", "=?utf-8?q?Zo=C3=AB?= <zoe@example.com>" or a bare
// local name ("root", "Root <root>"), and checks it with CheckAddress.
func ParseAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n\x00"); i >= 0 {
		return Address{}, fmt.Errorf("address %q holds %q: CR, LF and NUL are not allowed in an address: %w", s, s[i], ErrInvalidAddress)
	}
	if s == "" {
		return Address{}, fmt.Errorf("an empty address: %w", ErrInvalidAddress)
	}
	if a, err := addressParser.Parse(s); err == nil {
		out := Address{Name: a.Name, Addr: addrSpec(a.Address)}
		return out, out.check()
	}
	// net/mail wants a domain; a bare local name is taken here, with or
	// without a display name, and checked all the same.
	name, addr := "", s
	if strings.HasSuffix(s, ">") {
		i := strings.LastIndex(s, "<")
		if i < 0 {
			return Address{}, fmt.Errorf("%q is not an address such as alice@example.com or \"Alice <alice@example.com>\": %w", s, ErrInvalidAddress)
		}
		name, addr = strings.TrimSpace(s[:i]), s[i+1:len(s)-1]
		if name != "" {
			n, err := parseName(name)
			if err != nil {
				return Address{}, fmt.Errorf("the name in %q: %v: %w", s, err, ErrInvalidAddress)
			}
			name = n
		}
	}
	out := Address{Name: name, Addr: addr}
	if err := out.check(); err != nil {
		return Address{}, err
	}
	return out, nil
}

// check checks the address with CheckAddress, and the name as decoded:
// an encoded word may hide CR, LF or NUL.
func (a Address) check() error {
	if i := strings.IndexAny(a.Name, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("the name %q holds %q: CR, LF and NUL are not allowed in an address: %w", a.Name, a.Name[i], ErrInvalidAddress)
	}
	return CheckAddress(a.Addr)
}

// parseName reads a display name as net/mail does, quotes and encoded
// words included.
func parseName(name string) (string, error) {
	a, err := addressParser.Parse(name + " <x@x.invalid>")
	if err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "mail: "))
	}
	return a.Name, nil
}

// ParseAddressList parses a list of addresses separated by commas, such as
// `Alice <a@example.com>, b@example.org, team: c@example.net;`; each
// address is read as ParseAddress reads it, so the list may mix addresses
// with bare local names. A list that holds no address (an empty group such
// as "undisclosed-recipients:;") gives none and no error.
func ParseAddressList(s string) ([]Address, error) {
	if i := strings.IndexAny(s, "\r\n\x00"); i >= 0 {
		return nil, fmt.Errorf("address list %q holds %q: CR, LF and NUL are not allowed in an address: %w", s, s[i], ErrInvalidAddress)
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if list, err := addressParser.ParseList(s); err == nil {
		out := make([]Address, 0, len(list))
		for _, a := range list {
			addr := Address{Name: a.Name, Addr: addrSpec(a.Address)}
			if err := addr.check(); err != nil {
				return nil, err
			}
			out = append(out, addr)
		}
		return out, nil
	}
	var out []Address
	for _, part := range splitList(s) {
		part = strings.TrimSpace(part)
		part = strings.TrimSpace(strings.TrimSuffix(part, ";"))
		if g := groupName(part); g >= 0 {
			part = strings.TrimSpace(part[g+1:])
		}
		if part == "" {
			continue
		}
		a, err := ParseAddress(part)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// splitList splits a list at the commas outside quotes and angle brackets.
func splitList(s string) []string {
	var parts []string
	quoted, angle, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == ',' && !angle:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// groupName returns the index of the colon that ends a group's name at
// the start of s ("team: a@example.com"), or -1.
func groupName(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ':':
			return i
		case c == '<' || c == '@':
			return -1
		}
	}
	return -1
}

// addrSpec turns net/mail's address, whose local part it unquotes, back
// into the form an envelope carries: the local part quoted when it is not
// a dot-atom.
func addrSpec(a string) string {
	at := strings.LastIndex(a, "@")
	if at < 0 {
		return a
	}
	local, domain := a[:at], a[at:]
	if isDotAtom(local) {
		return a
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local) + `"` + domain
}

// isDotAtom reports whether s is a dot-atom of RFC 5322, UTF-8 allowed (RFC 6532).
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// parseAddressFields parses the entries of one of Message's address
// fields; each entry may hold a list.
func parseAddressFields(field string, entries []string) ([]Address, error) {
	var out []Address
	for _, e := range entries {
		list, err := ParseAddressList(e)
		if err != nil {
			return nil, fmt.Errorf("Message.%s: %w", field, err)
		}
		out = append(out, list...)
	}
	return out, nil
}
