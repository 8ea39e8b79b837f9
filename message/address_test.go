package message_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/message"
)

func TestCheckAddress(t *testing.T) {
	for _, ok := range []string{"a@example.com", "root", "first.last@example.com", `"a b"@example.com`, `"a@b"@example.com`,
		"a@[192.0.2.1]", "josé@exemple.fr", "a@bücher.de", "a+tag@example.com", "postmaster", `"quoted local"`} {
		if err := message.CheckAddress(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a@example.com\r\n", "a\n@example.com", "a@exa\x00mple.com", " a@example.com", "a@example.com ",
		"a b@example.com", "<a@example.com>", "a@example.com>", "Alice <a@example.com>", "a..b@example.com", "a@", "@example.com",
		"a@b@c", "a@example.com,b@example.org", `"unclosed@example.com`, "a\t@example.com", "a@exa\x7fmple.com"} {
		err := message.CheckAddress(bad)
		if !errors.Is(err, message.ErrInvalidAddress) {
			t.Errorf("%q was accepted (%v)", bad, err)
		}
	}
	if err := message.CheckAddress("a@example.com\r\nRCPT TO:<x@y>"); err == nil || !strings.Contains(err.Error(), "CR, LF and NUL") {
		t.Errorf("CRLF: %v", err)
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]message.Address{
		"alice@example.com":                       {Addr: "alice@example.com"},
		" Alice <alice@example.com> ":             {Name: "Alice", Addr: "alice@example.com"},
		"Zoë <zoe@example.com>":                   {Name: "Zoë", Addr: "zoe@example.com"},
		"=?utf-8?q?Zo=C3=AB?= <zoe@example.com>":  {Name: "Zoë", Addr: "zoe@example.com"},
		`"Last, First" <lf@example.com>`:          {Name: "Last, First", Addr: "lf@example.com"},
		"root":                                    {Addr: "root"},
		"Root User <root>":                        {Name: "Root User", Addr: "root"},
		`<"a b"@example.com>`:                     {Addr: `"a b"@example.com`},
		`"Zoë \"Z\" D." <"z\\q"@example.com>`:     {Name: `Zoë "Z" D.`, Addr: `"z\\q"@example.com`},
		"a@example.com (a comment is not a name)": {Name: "a comment is not a name", Addr: "a@example.com"},
	} {
		got, err := message.ParseAddress(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
		if err := message.CheckAddress(got.Addr); err != nil {
			t.Errorf("%q: the address it gives fails CheckAddress: %v", in, err)
		}
		again, err := message.ParseAddress(got.String())
		if err != nil || again != want {
			t.Errorf("%q: String() %q parses to %+v %v", in, got.String(), again, err)
		}
	}
	for _, bad := range []string{"", "a@example.com, b@example.org", "Alice <a@example.com", "Alice <a@example.com>\r\nBcc: x@y",
		"Alice <a b>", "Alice\x00 <a@example.com>", "a@b c"} {
		if _, err := message.ParseAddress(bad); !errors.Is(err, message.ErrInvalidAddress) {
			t.Errorf("%q was accepted (%v)", bad, err)
		}
	}
}

func TestParseAddressList(t *testing.T) {
	for in, want := range map[string][]string{
		"a@example.com, B <b@example.org>":                       {"a@example.com", "b@example.org"},
		`"Last, First" <lf@example.com>, root`:                   {"lf@example.com", "root"},
		"team: c@example.org, d@example.org;, e@example.net":     {"c@example.org", "d@example.org", "e@example.net"},
		"team: c@example.org, root;":                             {"c@example.org", "root"},
		"undisclosed-recipients:;":                               nil,
		"  ":                                                     nil,
		"Alice <a@example.com>, Bob <b@example.org>, postmaster": {"a@example.com", "b@example.org", "postmaster"},
	} {
		list, err := message.ParseAddressList(in)
		if err != nil || !slices.Equal(addrs(list), want) {
			t.Errorf("%q: %q %v, want %q", in, addrs(list), err, want)
		}
	}
	for _, bad := range []string{"a@example.com, b c", "a@example.com,\nb@example.org", "<a@example.com"} {
		if _, err := message.ParseAddressList(bad); !errors.Is(err, message.ErrInvalidAddress) {
			t.Errorf("%q was accepted (%v)", bad, err)
		}
	}
}
