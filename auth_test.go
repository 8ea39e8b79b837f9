package smtpkit_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	gosasl "github.com/emersion/go-sasl"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/sasl"
	"github.com/smtpkit/smtpkit/smtptest"
)

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
	testToken    = "ya29.a0-token-for-alice"
)

// authServer starts a server of kind offering mechs to alice.
func authServer(t *testing.T, kind smtptest.Security, mechs ...string) *smtptest.Server {
	t.Helper()
	srv := smtptest.NewUnstartedServer(kind)
	srv.Users = map[string]string{testUser: testPassword}
	srv.Tokens = map[string]string{testUser: testToken}
	srv.AuthMechanisms = mechs
	if kind == smtptest.Plain {
		srv.Config.AllowInsecureAuth = true
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// sendOne sends a message, which the server accepts only after a login.
func sendOne(t *testing.T, c *smtpkit.Client) {
	t.Helper()
	if _, err := c.Send(testContext(t), &smtpkit.Envelope{From: "alice@x.test", To: []string{"bob@y.test"}}, strings.NewReader("hi\r\n")); err != nil {
		t.Fatalf("Send after login: %v", err)
	}
}

// TestEveryMechanismOnTheWire logs in with each mechanism against a server
// that checks the exchange, then sends, and checks the server recorded the
// mechanism.
func TestEveryMechanismOnTheWire(t *testing.T) {
	mechs := []string{sasl.Plain, sasl.Login, sasl.CRAMMD5, sasl.SCRAMSHA1, sasl.SCRAMSHA256, sasl.SCRAMSHA512,
		sasl.SCRAMSHA1Plus, sasl.SCRAMSHA256Plus, sasl.SCRAMSHA512Plus, sasl.XOAUTH2, sasl.OAUTHBEARER}
	for _, m := range mechs {
		for _, kind := range []smtptest.Security{smtptest.StartTLS, smtptest.ImplicitTLS} {
			t.Run(m+"/"+kind.String(), func(t *testing.T) {
				srv := authServer(t, kind, m)
				opts := srv.ClientOptions()
				opts.Auth = &smtpkit.Auth{Username: testUser, Mechanisms: []string{m}}
				if m == sasl.XOAUTH2 || m == sasl.OAUTHBEARER {
					opts.Auth.Token = testToken
				} else {
					opts.Auth.Password = testPassword
				}
				c, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Quit(testContext(t))
				if got := c.AuthMechanism(); got != m {
					t.Errorf("AuthMechanism() = %q, want %q", got, m)
				}
				sendOne(t, c)
				if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].Mechanism != m || msgs[0].User != testUser {
					t.Errorf("server recorded %+v", msgs)
				}
			})
		}
	}
}

func TestAutomaticChoiceIsTheStrongest(t *testing.T) {
	all := []string{sasl.Login, sasl.Plain, sasl.CRAMMD5, sasl.SCRAMSHA1, sasl.SCRAMSHA256, sasl.SCRAMSHA1Plus, sasl.SCRAMSHA256Plus, sasl.XOAUTH2}
	tests := []struct {
		name  string
		kind  smtptest.Security
		auth  smtpkit.Auth
		mechs []string
		want  string
	}{
		{"TLS: channel binding first", smtptest.StartTLS, smtpkit.Auth{Username: testUser, Password: testPassword}, all, sasl.SCRAMSHA256Plus},
		{"plaintext: SCRAM without binding", smtptest.Plain, smtpkit.Auth{Username: testUser, Password: testPassword}, all, sasl.SCRAMSHA256},
		{"plaintext: CRAM-MD5 rather than PLAIN", smtptest.Plain, smtpkit.Auth{Username: testUser, Password: testPassword}, []string{sasl.Plain, sasl.Login, sasl.CRAMMD5}, sasl.CRAMMD5},
		{"TLS: PLAIN before LOGIN", smtptest.StartTLS, smtpkit.Auth{Username: testUser, Password: testPassword}, []string{sasl.Login, sasl.Plain}, sasl.Plain},
		{"a token: the token mechanism", smtptest.StartTLS, smtpkit.Auth{Username: testUser, Token: testToken}, all, sasl.XOAUTH2},
		{"allowed list wins", smtptest.StartTLS, smtpkit.Auth{Username: testUser, Password: testPassword, Mechanisms: []string{"login", "CRAM-MD5"}}, all, sasl.CRAMMD5},
		{"cleartext opt-in", smtptest.Plain, smtpkit.Auth{Username: testUser, Password: testPassword, AllowCleartext: true}, []string{sasl.Login, sasl.Plain}, sasl.Plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := authServer(t, tt.kind, tt.mechs...)
			opts := srv.ClientOptions()
			opts.Auth = &tt.auth
			c, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.AuthMechanism(); got != tt.want {
				t.Errorf("chose %q, want %q", got, tt.want)
			}
			sendOne(t, c)
		})
	}
}

// TestNoPasswordInPlaintext: a server that offers only PLAIN over a
// connection without TLS gets no password, and the error says how to opt in.
func TestNoPasswordInPlaintext(t *testing.T) {
	for _, mechs := range [][]string{{sasl.Plain}, {sasl.Plain, sasl.Login}, {sasl.XOAUTH2}} {
		srv := authServer(t, smtptest.Plain, mechs...)
		var transcript lineWriter
		opts := srv.ClientOptions()
		opts.Transcript = &transcript
		opts.Auth = &smtpkit.Auth{Username: testUser, Password: testPassword, Token: testToken}
		_, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
		if !errors.Is(err, smtpkit.ErrCleartextAuth) || !strings.Contains(err.Error(), "AllowCleartext") {
			t.Errorf("%v: err = %v, want ErrCleartextAuth naming the opt-in", mechs, err)
		}
		if strings.Contains(transcript.String(), "C: AUTH") {
			t.Errorf("%v: an AUTH command was sent:\n%s", mechs, transcript.String())
		}
	}
}

func TestWrongPasswordStopsAtOnce(t *testing.T) {
	srv := authServer(t, smtptest.StartTLS, sasl.SCRAMSHA256, sasl.CRAMMD5, sasl.Plain)
	var transcript lineWriter
	opts := srv.ClientOptions()
	opts.Transcript = &transcript
	opts.Auth = &smtpkit.Auth{Username: testUser, Password: "wrong"}
	_, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
	var e *smtpkit.Error
	if !errors.Is(err, smtpkit.ErrAuthFailed) || !errors.As(err, &e) || e.Code != 535 || e.Phase != smtpkit.PhaseAuth {
		t.Fatalf("err = %v, want ErrAuthFailed with the 535 in phase auth", err)
	}
	if n := strings.Count(transcript.String(), "C: AUTH "); n != 1 {
		t.Errorf("%d AUTH commands after a 535, want 1:\n%s", n, transcript.String())
	}
}

func TestWrongTokenGivesTheServersReason(t *testing.T) {
	for _, m := range []string{sasl.XOAUTH2, sasl.OAUTHBEARER} {
		srv := authServer(t, smtptest.StartTLS, m)
		opts := srv.ClientOptions()
		opts.Auth = &smtpkit.Auth{Username: testUser, Token: "expired-token"}
		_, err := smtpkit.Dial(testContext(t), srv.Addr, opts)
		var oe *sasl.OAuthError
		if !errors.Is(err, smtpkit.ErrAuthFailed) || !errors.As(err, &oe) || oe.Status != "401" {
			t.Errorf("%s: err = %v, want ErrAuthFailed with the server's OAuth status", m, err)
		}
		if strings.Contains(err.Error(), "expired-token") {
			t.Errorf("%s: the error shows the token: %v", m, err)
		}
	}
}

// TestRefusedMechanismLeadsToTheNext: 504 and 534 move on, and the
// transcript shows what was sent, with the secrets redacted.
func TestRefusedMechanismLeadsToTheNext(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "AUTH SCRAM-SHA-256 CRAM-MD5 PLAIN") {
			return
		}
		c.Expect("AUTH SCRAM-SHA-256")
		c.Send("534 5.7.9 Authentication mechanism is too weak")
		c.Expect("AUTH CRAM-MD5")
		c.Send("504 5.5.4 Unrecognized authentication type")
		line, err := c.Expect("AUTH PLAIN ")
		if err != nil {
			return
		}
		ir, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, "AUTH PLAIN "))
		if string(ir) == "\x00"+testUser+"\x00"+testPassword {
			c.Send("235 2.7.0 ok")
		} else {
			c.Send("535 5.7.8 bad")
		}
		c.WaitClose()
	})
	defer srv.Close()
	var transcript lineWriter
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security:   smtpkit.SecurityNone,
		Transcript: &transcript,
		Auth:       &smtpkit.Auth{Username: testUser, Password: testPassword, AllowCleartext: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.AuthMechanism() != sasl.Plain {
		t.Errorf("mechanism %q, want PLAIN", c.AuthMechanism())
	}
	tr := transcript.String()
	if !strings.Contains(tr, "C: AUTH PLAIN <redacted>") {
		t.Errorf("transcript lacks the redacted AUTH PLAIN:\n%s", tr)
	}
	secret := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword))
	if strings.Contains(tr, testPassword) || strings.Contains(tr, secret) {
		t.Errorf("the transcript holds the password:\n%s", tr)
	}
}

// TestHostileAuthServers: each ends in a clear error, the exchange
// cancelled with "*" where the client cannot go on.
func TestHostileAuthServers(t *testing.T) {
	tests := []struct {
		name   string
		mech   string
		script func(c *smtptest.RawConn)
		want   error
		cancel bool // the client must answer "*"
	}{
		{"not base64", sasl.CRAMMD5, func(c *smtptest.RawConn) {
			c.Send("334 !!!not base64!!!")
		}, smtpkit.ErrProtocol, true},
		{"235 before the SCRAM server proved itself", sasl.SCRAMSHA256, func(c *smtptest.RawConn) {
			c.Send("235 2.7.0 trust me")
		}, sasl.ErrServerSignature, false},
		{"SCRAM server signature does not verify", sasl.SCRAMSHA256, func(c *smtptest.RawConn) {
			first, _ := base64.StdEncoding.DecodeString(strings.Fields(c.Received()[len(c.Received())-1])[2])
			nonce := first[strings.Index(string(first), "r=")+2:]
			serverFirst := "r=" + string(nonce) + "srvnonce,s=" + base64.StdEncoding.EncodeToString([]byte("salt")) + ",i=4096"
			c.Send("334 " + base64.StdEncoding.EncodeToString([]byte(serverFirst)))
			c.ReadLine() // client-final
			c.Send("334 " + base64.StdEncoding.EncodeToString([]byte("v="+base64.StdEncoding.EncodeToString([]byte("not the signature")))))
		}, sasl.ErrServerSignature, true},
		{"unexpected code", sasl.CRAMMD5, func(c *smtptest.RawConn) {
			c.Send("250 what?")
		}, nil, false},
		{"454 temporary", sasl.CRAMMD5, func(c *smtptest.RawConn) {
			c.Send("454 4.7.0 Temporary authentication failure")
		}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
				if !greetAndEHLO(c, "AUTH "+tt.mech) {
					return
				}
				if _, err := c.Expect("AUTH " + tt.mech); err != nil {
					return
				}
				tt.script(c)
				if tt.cancel {
					if _, err := c.Expect("*"); err == nil {
						c.Send("501 5.7.0 cancelled")
					}
				}
				c.WaitClose()
			})
			defer srv.Close()
			_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
				Security: smtpkit.SecurityNone,
				Auth:     &smtpkit.Auth{Username: testUser, Password: testPassword},
			})
			var e *smtpkit.Error
			if !errors.As(err, &e) || e.Phase != smtpkit.PhaseAuth {
				t.Fatalf("err = %v, want an error of phase auth", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("the error shows the password: %v", err)
			}
			srv.Close()
			if got := srv.Received(); tt.cancel && got[len(got)-1] != "*" {
				t.Errorf("the client did not cancel the exchange: %q", got)
			}
		})
	}
}

// loopClient answers every challenge forever.
type loopClient struct{}

func (loopClient) Start() (string, []byte, error) { return "X-LOOP", nil, nil }
func (loopClient) Next([]byte) ([]byte, error)    { return []byte("again"), nil }
func (loopClient) String() string                 { return "loop" }
func (loopClient) Format(f fmt.State, verb rune)  { fmt.Fprint(f, "loop") }

var _ gosasl.Client = loopClient{}

func TestEndlessChallengeLoopIsBounded(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "AUTH X-LOOP") {
			return
		}
		for {
			l, err := c.ReadLine()
			if err != nil {
				return
			}
			if l == "*" {
				c.Send("501 cancelled")
				continue
			}
			c.Send("334 ")
		}
	})
	defer srv.Close()
	_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security: smtpkit.SecurityNone,
		Auth:     &smtpkit.Auth{Client: loopClient{}},
	})
	if !errors.Is(err, smtpkit.ErrProtocol) || !strings.Contains(err.Error(), "challenges") {
		t.Errorf("err = %v, want ErrProtocol about too many challenges", err)
	}
}

func TestLoginOutcomes(t *testing.T) {
	srv := authServer(t, smtptest.StartTLS, sasl.Plain, sasl.XOAUTH2)
	noAuth := smtptest.NewServer(smtptest.StartTLS)
	defer noAuth.Close()
	tests := []struct {
		name string
		addr string
		auth smtpkit.Auth
		want error
	}{
		{"ok", srv.Addr, smtpkit.Auth{Username: testUser, Password: testPassword}, nil},
		{"wrong password", srv.Addr, smtpkit.Auth{Username: testUser, Password: "nope"}, smtpkit.ErrAuthFailed},
		{"no common mechanism", srv.Addr, smtpkit.Auth{Username: testUser, Password: testPassword, Mechanisms: []string{"SCRAM-SHA-256"}}, smtpkit.ErrNoCommonMechanism},
		{"AUTH not offered", noAuth.Addr, smtpkit.Auth{Username: testUser, Password: testPassword}, smtpkit.ErrAuthNotOffered},
		{"empty password", srv.Addr, smtpkit.Auth{Username: testUser}, smtpkit.ErrInvalidOptions},
		{"empty user name", srv.Addr, smtpkit.Auth{Password: testPassword}, smtpkit.ErrInvalidOptions},
		{"token with CRLF", srv.Addr, smtpkit.Auth{Username: testUser, Token: "tok\r\nMAIL FROM:<x>"}, sasl.ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := srv.ClientOptions()
			opts.Auth = &tt.auth
			mech, err := smtpkit.ValidateCredentials(testContext(t), tt.addr, opts)
			if tt.want == nil {
				if err != nil || mech != sasl.Plain {
					t.Errorf("ValidateCredentials = %q, %v", mech, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	_, err := smtpkit.ValidateCredentials(testContext(t), "127.0.0.1:1", &smtpkit.Options{Auth: &smtpkit.Auth{Username: "u", Password: "p"}})
	var e *smtpkit.Error
	if !errors.As(err, &e) || e.Phase != smtpkit.PhaseConnect {
		t.Errorf("unreachable server: %v, want a connect-phase error", err)
	}
}
