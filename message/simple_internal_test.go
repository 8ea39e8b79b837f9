package message

import (
	"net/mail"
	"testing"
)

// TestSimpleAddressAgreesWithTheFullCheck: every address the fast path
// takes, the full parse takes too.
func TestSimpleAddressAgreesWithTheFullCheck(t *testing.T) {
	for _, a := range []string{"a@b", "alice@example.com", "a.b+c@mail-1.example.org", "x!#$%&'*+-/=?^_`{|}~@h",
		"a..b@x", ".a@x", "a.@x", "a@.x", "a@x.", "a@x..y", "a@x_y", "@x", "a@", "a b@x", "a@b@c"} {
		if simpleAddress(a) {
			if _, err := mail.ParseAddress("<" + a + ">"); err != nil {
				t.Errorf("%q: the fast path takes it, net/mail refuses it: %v", a, err)
			}
		}
	}
}

func FuzzSimpleAddress(f *testing.F) {
	f.Add("alice@example.com")
	f.Add("a.b@c-d.e")
	f.Fuzz(func(t *testing.T, a string) {
		if simpleAddress(a) {
			if _, err := mail.ParseAddress("<" + a + ">"); err != nil {
				t.Errorf("%q: the fast path takes it, net/mail refuses it: %v", a, err)
			}
		}
	})
}
