package sasl

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	gosasl "github.com/emersion/go-sasl"
	"github.com/xdg-go/scram"
)

// scramServer carries an xdg-go/scram server conversation the way an SMTP
// server does: it sends the server-final message as a challenge and ends
// when the client answers it with an empty response.
type scramServer struct {
	conv *scram.ServerConversation
	sent int // how many challenges have been sent
}

func (s *scramServer) Next(response []byte) ([]byte, bool, error) {
	if s.sent == 2 {
		if len(response) != 0 {
			return nil, false, errors.New("the client answered the server-final message with a non-empty response")
		}
		return nil, true, nil
	}
	if response == nil {
		return nil, false, errors.New("SCRAM client sent no initial response")
	}
	challenge, err := s.conv.Step(string(response))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", challenge, err)
	}
	s.sent++
	return []byte(challenge), false, nil
}

// scramHashGen returns the xdg-go hash of a SCRAM mechanism name.
func scramHashGen(t *testing.T, mechanism string) scram.HashGeneratorFcn {
	t.Helper()
	hash, ok := scramHashes[strings.TrimSuffix(mechanism, "-PLUS")]
	if !ok {
		t.Fatalf("no hash for %s", mechanism)
	}
	return hash
}

// newSCRAMServer returns an xdg-go/scram server that knows one account,
// with the given salt.
func newSCRAMServer(t *testing.T, mechanism, user, password, salt string) *scram.Server {
	t.Helper()
	hash := scramHashGen(t, mechanism)
	client, err := hash.NewClient(user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: salt, Iters: 4096})
	if err != nil {
		t.Fatal(err)
	}
	server, err := hash.NewServer(func(name string) (scram.StoredCredentials, error) {
		if name != user {
			return scram.StoredCredentials{}, errors.New("unknown user")
		}
		return creds, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return server
}

// fixNonce makes a SCRAM client use the given nonce, for test vectors.
func fixNonce(c gosasl.Client, nonce string) {
	c.(*scramClient).client.WithNonceGenerator(func() string { return nonce })
}

// scramVector is an exchange published in an RFC.
type scramVector struct {
	rfc, mechanism, clientNonce, serverNonce, salt     string
	clientFirst, serverFirst, clientFinal, serverFinal string
}

var scramVectors = []scramVector{
	{
		rfc:         "RFC 5802, section 5",
		mechanism:   SCRAMSHA1,
		clientNonce: "fyko+d2lbbFgONRv9qkxdawL",
		serverNonce: "3rfcNHYJY1ZVvWVs7j",
		salt:        "QSXCR+Q6sek8bf92",
		clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{
		rfc:         "RFC 7677, section 3",
		mechanism:   SCRAMSHA256,
		clientNonce: "rOprNGfwEbeRWgbNEkqO",
		serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
		clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
		serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
}

// TestSCRAMVectors replays the published exchanges message by message.
func TestSCRAMVectors(t *testing.T) {
	for _, v := range scramVectors {
		t.Run(v.rfc, func(t *testing.T) {
			c, err := NewSCRAMClient(v.mechanism, "user", "pencil", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			fixNonce(c, v.clientNonce)
			mech, first, err := c.Start()
			if err != nil || mech != v.mechanism || string(first) != v.clientFirst {
				t.Fatalf("Start() = %q, %q, %v; want %q", mech, first, err, v.clientFirst)
			}
			final, err := c.Next([]byte(v.serverFirst))
			if err != nil || string(final) != v.clientFinal {
				t.Fatalf("client-final = %q, %v; want %q", final, err, v.clientFinal)
			}
			if err := finish(c); !errors.Is(err, ErrServerSignature) {
				t.Fatalf("Finish before the server-final message = %v, want ErrServerSignature", err)
			}
			last, err := c.Next([]byte(v.serverFinal))
			if err != nil || last == nil || len(last) != 0 {
				t.Fatalf("answer to server-final = %q (nil: %v), %v; want an empty, non-nil response", last, last == nil, err)
			}
			if err := finish(c); err != nil {
				t.Fatalf("Finish = %v", err)
			}
			if _, err := c.Next([]byte("v=x")); !errors.Is(err, ErrUnexpectedChallenge) {
				t.Fatalf("third challenge error = %v, want ErrUnexpectedChallenge", err)
			}
		})
	}
}

// TestSCRAMVectorsAgainstServer runs the published exchanges against
// xdg-go/scram's server with the same nonces and salt.
func TestSCRAMVectorsAgainstServer(t *testing.T) {
	for _, v := range scramVectors {
		t.Run(v.rfc, func(t *testing.T) {
			salt, err := base64.StdEncoding.DecodeString(v.salt)
			if err != nil {
				t.Fatal(err)
			}
			server := newSCRAMServer(t, v.mechanism, "user", "pencil", string(salt))
			server.WithNonceGenerator(func() string { return v.serverNonce })
			c, err := NewSCRAMClient(v.mechanism, "user", "pencil", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			fixNonce(c, v.clientNonce)
			if err := exchange(c, &scramServer{conv: server.NewConversation()}); err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if err := finish(c); err != nil {
				t.Fatalf("Finish = %v", err)
			}
		})
	}
}

func TestSCRAMTamperedServerSignature(t *testing.T) {
	v := scramVectors[1]
	c, err := NewSCRAMClient(v.mechanism, "user", "pencil", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	fixNonce(c, v.clientNonce)
	c.Start()
	if _, err := c.Next([]byte(v.serverFirst)); err != nil {
		t.Fatal(err)
	}
	// Flip one bit of the signature.
	sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(v.serverFinal, "v="))
	sig[0] ^= 1
	_, err = c.Next([]byte("v=" + base64.StdEncoding.EncodeToString(sig)))
	if !errors.Is(err, ErrServerSignature) {
		t.Fatalf("error = %v, want ErrServerSignature", err)
	}
	if !strings.Contains(err.Error(), "could not prove it knows the password") {
		t.Errorf("error %q does not say what it means", err)
	}
	if err := finish(c); !errors.Is(err, ErrServerSignature) {
		t.Fatalf("Finish = %v, want ErrServerSignature", err)
	}
}

func TestSCRAMMalformedChallenges(t *testing.T) {
	v := scramVectors[1]
	start := func(t *testing.T) gosasl.Client {
		c, err := NewSCRAMClient(v.mechanism, "user", "pencil", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		fixNonce(c, v.clientNonce)
		c.Start()
		return c
	}
	for name, serverFirst := range map[string]string{
		"garbage":             "\x00\xff not scram",
		"salt is not base64":  "r=rOprNGfwEbeRWgbNEkqOxyz,s=!!!not base64!!!,i=4096",
		"nonce not extended":  "r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"too few iterations":  "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
		"iterations not a nr": "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=many",
	} {
		t.Run("server-first "+name, func(t *testing.T) {
			c := start(t)
			if _, err := c.Next([]byte(serverFirst)); !errors.Is(err, ErrMalformedChallenge) {
				t.Fatalf("error = %v, want ErrMalformedChallenge", err)
			}
		})
	}
	for name, serverFinal := range map[string]string{
		"garbage":                 "nonsense",
		"signature not base64":    "v=!!!not base64!!!",
		"signature of a stranger": "v=" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
	} {
		t.Run("server-final "+name, func(t *testing.T) {
			c := start(t)
			if _, err := c.Next([]byte(v.serverFirst)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Next([]byte(serverFinal)); !errors.Is(err, ErrServerSignature) {
				t.Fatalf("error = %v, want ErrServerSignature", err)
			}
		})
	}
	t.Run("server-final error", func(t *testing.T) {
		c := start(t)
		if _, err := c.Next([]byte(v.serverFirst)); err != nil {
			t.Fatal(err)
		}
		_, err := c.Next([]byte("e=invalid-proof"))
		if err == nil || !strings.Contains(err.Error(), "invalid-proof") {
			t.Fatalf("error = %v, want the server's e= reason", err)
		}
	})
}

func TestSCRAM(t *testing.T) {
	for _, mech := range []string{SCRAMSHA1, SCRAMSHA256, SCRAMSHA512} {
		for _, tc := range []struct {
			name, user, password, authzID string
			ok                            bool
		}{
			{"right password", "alice", "secret", "", true},
			{"wrong password", "alice", "wrong", "", false},
			{"unknown user", "bob", "secret", "", false},
			{"name with comma and equals", "a,b=c", "secret", "", true},
		} {
			t.Run(mech+"/"+tc.name, func(t *testing.T) {
				server := newSCRAMServer(t, mech, "alice", "secret", "NaCl")
				if tc.user == "a,b=c" {
					server = newSCRAMServer(t, mech, "a,b=c", "secret", "NaCl")
				}
				c, err := NewSCRAMClient(mech, tc.user, tc.password, tc.authzID, nil)
				if err != nil {
					t.Fatal(err)
				}
				err = exchange(c, &scramServer{conv: server.NewConversation()})
				if (err == nil) != tc.ok {
					t.Fatalf("exchange error = %v, want success %v", err, tc.ok)
				}
				if tc.ok {
					if err := finish(c); err != nil {
						t.Fatalf("Finish = %v", err)
					}
				}
			})
		}
	}
}

func TestSCRAMAuthzID(t *testing.T) {
	server := newSCRAMServer(t, SCRAMSHA256, "alice", "secret", "NaCl")
	conv := server.NewConversation()
	c, err := NewSCRAMClient(SCRAMSHA256, "alice", "secret", "admin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := exchange(c, &scramServer{conv: conv}); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if conv.AuthzID() != "admin" {
		t.Fatalf("server saw authorization identity %q, want admin", conv.AuthzID())
	}
}

func TestSCRAMUnknownMechanism(t *testing.T) {
	for _, mech := range []string{"SCRAM-MD5", "PLAIN", "SCRAM-SHA-256-PLUS-PLUS", ""} {
		if _, err := NewSCRAMClient(mech, "alice", "secret", "", nil); err == nil {
			t.Errorf("NewSCRAMClient(%q) did not fail", mech)
		}
	}
	// Mechanism names are case-insensitive, as in SMTP.
	c, err := NewSCRAMClient("scram-sha-256", "alice", "secret", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if mech, _, _ := c.Start(); mech != SCRAMSHA256 {
		t.Fatalf("mechanism = %q, want %q", mech, SCRAMSHA256)
	}
}

func TestSCRAMPlusNeedsTLS(t *testing.T) {
	_, err := NewSCRAMClient(SCRAMSHA256Plus, "alice", "secret", "", nil)
	if !errors.Is(err, ErrNoChannelBinding) {
		t.Fatalf("error = %v, want ErrNoChannelBinding", err)
	}
	_, err = NewSCRAMClient(SCRAMSHA256Plus, "alice", "secret", "", &tls.ConnectionState{})
	if !errors.Is(err, ErrNoChannelBinding) {
		t.Fatalf("error for an unfinished handshake = %v, want ErrNoChannelBinding", err)
	}
}

// TestSCRAMWithoutTLSSaysNoBinding checks the GS2 flag "n" when the client
// has no TLS connection.
func TestSCRAMWithoutTLSSaysNoBinding(t *testing.T) {
	c, err := NewSCRAMClient(SCRAMSHA256, "alice", "secret", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, first, _ := c.Start(); !strings.HasPrefix(string(first), "n,,") {
		t.Fatalf("client-first = %q, want GS2 flag n", first)
	}
}
