package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
)

// The NT hash of the password "Password" (NTOWFv1), and the NTLMv2 hash of
// it for user "User" in domain "Domain" (NTOWFv2), from MS-NLMP sections
// 4.2.2.1.2 and 4.2.4.1.1. They let the test server check NTLMv2 without an
// MD4 implementation.
const (
	ntlmPasswordHash = "a4f49c406510bdcab6824ee7c30fd852"
	ntlmV2Hash       = "0c868a403bfd7a93a3001ef22ef02e3f"
)

// utf16LE encodes s as NTLM does.
func utf16LE(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	mac := hmac.New(md5.New, key)
	for _, d := range data {
		mac.Write(d)
	}
	return mac.Sum(nil)
}

func TestNTLMVector(t *testing.T) {
	nt, _ := hex.DecodeString(ntlmPasswordHash)
	if got := hex.EncodeToString(hmacMD5(nt, utf16LE("USER"+"Domain"))); got != ntlmV2Hash {
		t.Fatalf("NTOWFv2 = %s, want %s", got, ntlmV2Hash)
	}
}

// ntlmServer checks an NTLMv2 answer for user "User" in domain "Domain",
// whose password hash it knows.
type ntlmServer struct {
	challenge [8]byte
	sent      bool
	user      string // the user name the client sent
}

func (s *ntlmServer) Next(response []byte) ([]byte, bool, error) {
	if !s.sent {
		if !bytes.HasPrefix(response, []byte("NTLMSSP\x00\x01\x00\x00\x00")) {
			return nil, false, errors.New("initial response is not an NTLM NEGOTIATE message")
		}
		s.sent = true
		return s.challengeMessage(), false, nil
	}
	if !bytes.HasPrefix(response, []byte("NTLMSSP\x00\x03\x00\x00\x00")) || len(response) < 64 {
		return nil, false, errors.New("response is not an NTLM AUTHENTICATE message")
	}
	ntResponse, ok1 := ntlmField(response, 20)
	domain, ok2 := ntlmField(response, 28)
	user, ok3 := ntlmField(response, 36)
	if !ok1 || !ok2 || !ok3 || len(ntResponse) <= 16 {
		return nil, false, errors.New("malformed AUTHENTICATE message")
	}
	s.user = string(user)
	if !bytes.Equal(domain, utf16LE("Domain")) || !bytes.Equal(user, utf16LE("User")) {
		return nil, false, errors.New("unknown user")
	}
	key, _ := hex.DecodeString(ntlmV2Hash)
	proof, blob := ntResponse[:16], ntResponse[16:]
	if !hmac.Equal(proof, hmacMD5(key, s.challenge[:], blob)) {
		return nil, false, errors.New("wrong password")
	}
	return nil, true, nil
}

// ntlmField reads the payload a field header at offset points to.
func ntlmField(msg []byte, offset int) ([]byte, bool) {
	n := int(binary.LittleEndian.Uint16(msg[offset:]))
	at := int(binary.LittleEndian.Uint32(msg[offset+4:]))
	if at+n > len(msg) {
		return nil, false
	}
	return msg[at : at+n], true
}

// challengeMessage writes an NTLM CHALLENGE message (MS-NLMP 2.2.1.2).
func (s *ntlmServer) challengeMessage() []byte {
	const (
		flagUnicode         = 0x00000001
		flagRequestTarget   = 0x00000004
		flagNTLM            = 0x00000200
		flagAlwaysSign      = 0x00008000
		flagTargetDomain    = 0x00010000
		flagExtendedSession = 0x00080000
		flagTargetInfo      = 0x00800000
	)
	target := utf16LE("DOMAIN")
	var info []byte
	for _, av := range []struct {
		id    uint16
		value []byte
	}{{2, utf16LE("DOMAIN")}, {1, utf16LE("SERVER")}, {0, nil}} {
		info = binary.LittleEndian.AppendUint16(info, av.id)
		info = binary.LittleEndian.AppendUint16(info, uint16(len(av.value)))
		info = append(info, av.value...)
	}
	const header = 48
	m := []byte("NTLMSSP\x00")
	m = binary.LittleEndian.AppendUint32(m, 2)
	m = binary.LittleEndian.AppendUint16(m, uint16(len(target)))
	m = binary.LittleEndian.AppendUint16(m, uint16(len(target)))
	m = binary.LittleEndian.AppendUint32(m, header)
	m = binary.LittleEndian.AppendUint32(m, flagUnicode|flagRequestTarget|flagNTLM|flagAlwaysSign|flagTargetDomain|flagExtendedSession|flagTargetInfo)
	m = append(m, s.challenge[:]...)
	m = append(m, make([]byte, 8)...)
	m = binary.LittleEndian.AppendUint16(m, uint16(len(info)))
	m = binary.LittleEndian.AppendUint16(m, uint16(len(info)))
	m = binary.LittleEndian.AppendUint32(m, uint32(header+len(target)))
	m = append(m, target...)
	return append(m, info...)
}

func TestNTLM(t *testing.T) {
	for _, tc := range []struct {
		name, user, password string
		ok                   bool
	}{
		{"right password", `Domain\User`, "Password", true},
		{"wrong password", `Domain\User`, "password", false},
		{"no domain", "User", "Password", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewNTLMClient(tc.user, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			server := &ntlmServer{challenge: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}
			err = exchange(c, server)
			if (err == nil) != tc.ok {
				t.Fatalf("exchange error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

func TestNTLMBadChallenges(t *testing.T) {
	c, err := NewNTLMClient(`Domain\User`, "Password")
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	if _, err := c.Next([]byte("not NTLM")); !errors.Is(err, ErrMalformedChallenge) {
		t.Fatalf("error = %v, want ErrMalformedChallenge", err)
	}
	if _, err := c.Next((&ntlmServer{}).challengeMessage()); !errors.Is(err, ErrUnexpectedChallenge) {
		t.Fatalf("second challenge error = %v, want ErrUnexpectedChallenge", err)
	}
}

func TestNTLMRejectsHalfDomainNames(t *testing.T) {
	for _, user := range []string{`\User`, `Domain\`} {
		if _, err := NewNTLMClient(user, "Password"); !errors.Is(err, ErrInvalidCredentials) || strings.Contains(err.Error(), "Password") {
			t.Errorf("NewNTLMClient(%q) error = %v, want ErrInvalidCredentials without the password", user, err)
		}
	}
}
