package sasl

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	gosasl "github.com/emersion/go-sasl"
)

// secretPart appears in every password and token of these tests, so that a
// test can tell whether an error or printed value shows a secret.
const secretPart = "Sw0rdf1sh"

// secretClients lists the constructors that take a username and a secret.
var secretClients = []struct {
	mechanism string
	new       func(username, secret string) (gosasl.Client, error)
}{
	{Plain, func(u, s string) (gosasl.Client, error) { return NewPlainClient("", u, s) }},
	{Login, NewLoginClient},
	{CRAMMD5, NewCRAMMD5Client},
	{XOAUTH2, NewXOAUTH2Client},
	{OAUTHBEARER, func(u, s string) (gosasl.Client, error) { return NewOAUTHBEARERClient(u, s, "mail.example.com", 587) }},
	{SCRAMSHA1, func(u, s string) (gosasl.Client, error) { return NewSCRAMClient(SCRAMSHA1, u, s, "", nil) }},
	{SCRAMSHA256, func(u, s string) (gosasl.Client, error) { return NewSCRAMClient(SCRAMSHA256, u, s, "", nil) }},
	{SCRAMSHA512, func(u, s string) (gosasl.Client, error) { return NewSCRAMClient(SCRAMSHA512, u, s, "", nil) }},
	{NTLM, NewNTLMClient},
}

// assertNoSecret fails the test if err shows the secret.
func assertNoSecret(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secretPart) {
		t.Errorf("%s: error %q shows the secret", what, err)
	}
}

func TestEmptyCredentialsRejected(t *testing.T) {
	for _, c := range secretClients {
		t.Run(c.mechanism, func(t *testing.T) {
			if _, err := c.new("", secretPart); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("empty username: error = %v, want ErrInvalidCredentials", err)
			} else {
				assertNoSecret(t, "empty username", err)
			}
			if _, err := c.new("alice", ""); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("empty secret: error = %v, want ErrInvalidCredentials", err)
			}
		})
	}
}

func TestLineBreaksInUsernamesRejected(t *testing.T) {
	for _, c := range secretClients {
		for _, bad := range []string{"alice\r\nRCPT TO:<x>", "alice\n", "al\x00ice", "alice\r"} {
			t.Run(c.mechanism+"/"+fmt.Sprintf("%q", bad), func(t *testing.T) {
				_, err := c.new(bad, secretPart)
				if !errors.Is(err, ErrInvalidCredentials) {
					t.Fatalf("error = %v, want ErrInvalidCredentials", err)
				}
				assertNoSecret(t, "bad username", err)
			})
		}
	}
}

func TestControlCharactersInTokensRejected(t *testing.T) {
	for _, c := range secretClients {
		if c.mechanism != XOAUTH2 && c.mechanism != OAUTHBEARER {
			continue
		}
		for _, bad := range []string{secretPart + "\r\nQUIT", secretPart + "\n", secretPart + "\x00", secretPart + "\x01auth=x"} {
			t.Run(c.mechanism+"/"+fmt.Sprintf("%q", strings.TrimPrefix(bad, secretPart)), func(t *testing.T) {
				_, err := c.new("alice@example.com", bad)
				if !errors.Is(err, ErrInvalidCredentials) {
					t.Fatalf("error = %v, want ErrInvalidCredentials", err)
				}
				assertNoSecret(t, "bad token", err)
			})
		}
	}
	if _, err := NewOAUTHBEARERClient("alice", secretPart, "mail.example.com\r\n", 0); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("host with CR LF: error = %v, want ErrInvalidCredentials", err)
	}
}

func TestControlCharactersInIdentitiesRejected(t *testing.T) {
	for name, f := range map[string]func(string) error{
		"PLAIN":    func(id string) error { _, err := NewPlainClient(id, "alice", secretPart); return err },
		"SCRAM":    func(id string) error { _, err := NewSCRAMClient(SCRAMSHA256, "alice", secretPart, id, nil); return err },
		"EXTERNAL": func(id string) error { _, err := NewExternalClient(id); return err },
	} {
		for _, bad := range []string{"admin\r\n", "ad\x00min"} {
			err := f(bad)
			if !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("%s identity %q: error = %v, want ErrInvalidCredentials", name, bad, err)
			}
			assertNoSecret(t, name, err)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	for _, c := range secretClients {
		t.Run(c.mechanism, func(t *testing.T) {
			client, err := c.new("alice", secretPart)
			if err != nil {
				t.Fatal(err)
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
				if out := fmt.Sprintf(verb, client); strings.Contains(out, secretPart) || strings.Contains(out, fmt.Sprintf("%x", secretPart)) {
					t.Errorf("fmt %s shows the secret: %s", verb, out)
				}
			}
			if s, ok := client.(fmt.Stringer); !ok || !strings.Contains(s.String(), c.mechanism) || !strings.Contains(s.String(), "alice") {
				t.Errorf("String() should name the mechanism and user, got %v", client)
			}
		})
	}
}

// TestSecretsNeverInExchangeErrors feeds every client challenges that make
// it fail, and checks that no error shows the secret.
func TestSecretsNeverInExchangeErrors(t *testing.T) {
	challenges := [][]byte{nil, {}, []byte("garbage"), []byte("\x00\xff\x01"), []byte(`{"status":"401"}`),
		[]byte("r=x,s=QSXCR+Q6sek8bf92,i=4096"), []byte("v=AAAA"), []byte("e=other-error"), []byte("third")}
	for _, c := range secretClients {
		t.Run(c.mechanism, func(t *testing.T) {
			for i := range challenges {
				client, err := c.new("alice", secretPart)
				if err != nil {
					t.Fatal(err)
				}
				client.Start()
				// Challenges from i on, in order, until the client gives up.
				for _, ch := range challenges[i:] {
					_, err := client.Next(ch)
					assertNoSecret(t, fmt.Sprintf("challenge %q", ch), err)
					if err != nil {
						break
					}
				}
				assertNoSecret(t, "Finish", finish(client))
			}
		})
	}
	_, err := NewSCRAMClient(SCRAMSHA256, "alice", secretPart+"\u0007", "", nil)
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("password SASLprep refuses: error = %v, want ErrInvalidCredentials", err)
	}
	assertNoSecret(t, "SASLprep", err)
	_, err = NewPlainClient("", "alice", secretPart+"\x00")
	assertNoSecret(t, "PLAIN NUL", err)
}

func TestMechanisms(t *testing.T) {
	all := Mechanisms()
	if len(all) != 14 {
		t.Fatalf("Mechanisms() has %d names: %q", len(all), all)
	}
	all[0] = "changed"
	if Mechanisms()[0] != Plain {
		t.Fatal("Mechanisms returns a shared slice")
	}
}
