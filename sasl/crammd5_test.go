package sasl

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// cramMD5Server sends one challenge and checks the keyed digest.
type cramMD5Server struct {
	user, password, challenge string
	sent                      bool
}

func (s *cramMD5Server) Next(response []byte) ([]byte, bool, error) {
	if !s.sent {
		if response != nil {
			return nil, false, errors.New("CRAM-MD5 client sent an initial response")
		}
		s.sent = true
		return []byte(s.challenge), false, nil
	}
	user, digest, ok := cutLast(string(response), " ")
	mac := hmac.New(md5.New, []byte(s.password))
	mac.Write([]byte(s.challenge))
	want := hex.EncodeToString(mac.Sum(nil))
	if !ok || user != s.user || !hmac.Equal([]byte(digest), []byte(want)) {
		return nil, false, errors.New("invalid credentials")
	}
	return nil, true, nil
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// TestCRAMMD5Vector checks the example of RFC 2195, section 2.
func TestCRAMMD5Vector(t *testing.T) {
	c, err := NewCRAMMD5Client("tim", "tanstaaftanstaaf")
	if err != nil {
		t.Fatal(err)
	}
	if mech, ir, err := c.Start(); mech != CRAMMD5 || ir != nil || err != nil {
		t.Fatalf("Start() = %q, %q, %v", mech, ir, err)
	}
	got, err := c.Next([]byte("<1896.697170952@postoffice.reston.mci.net>"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "tim b913a602c7eda7a495b4e6e7334d3890"; string(got) != want {
		t.Fatalf("response = %q, want %q", got, want)
	}
	if _, err := c.Next([]byte("<again@example>")); !errors.Is(err, ErrUnexpectedChallenge) {
		t.Fatalf("second challenge error = %v, want ErrUnexpectedChallenge", err)
	}
}

func TestCRAMMD5(t *testing.T) {
	for _, tc := range []struct {
		name, user, password string
		ok                   bool
	}{
		{"right password", "alice", "secret", true},
		{"wrong password", "alice", "wrong", false},
		{"user with a space", "alice smith", "secret", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCRAMMD5Client(tc.user, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			err = exchange(c, &cramMD5Server{user: "alice", password: "secret", challenge: "<42.1700000000@localhost>"})
			if (err == nil) != tc.ok {
				t.Fatalf("exchange error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

func TestCRAMMD5EmptyChallenge(t *testing.T) {
	c, err := NewCRAMMD5Client("alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	if _, err := c.Next(nil); !errors.Is(err, ErrMalformedChallenge) {
		t.Fatalf("error = %v, want ErrMalformedChallenge", err)
	}
}
