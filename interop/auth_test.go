package interop_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/sasl"
)

// The ports with AUTH (keys of peers.env):
//   - PEERS_SMTP_AUTH_CLEARTEXT (2526, Postfix with Cyrus SASL): AUTH over
//     plaintext with PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM-SHA-1 and
//     SCRAM-SHA-256.
//   - PEERS_SMTP_DOVECOT (2527, Postfix with Dovecot SASL): the same, plus
//     XOAUTH2 and OAUTHBEARER with HS256 JWTs.
//   - PEERS_SMTP_SUBMISSION (2587): STARTTLS required, AUTH after TLS.
//   - PEERS_SMTPS (2465): implicit TLS, the mechanisms of 2526.

// authOptions returns options for mode that log in as the peers' user.
func (p *peers) authOptions(t *testing.T, mode smtpkit.Security, mechs ...string) *smtpkit.Options {
	t.Helper()
	opts := p.options(t, mode)
	opts.Auth = &smtpkit.Auth{
		Username:   p.get(t, "PEERS_SMTP_USER"),
		Password:   p.get(t, "PEERS_SMTP_PASS"),
		Mechanisms: mechs,
	}
	return opts
}

func TestAuthMechanismsAgainstPostfix(t *testing.T) {
	p := needPeers(t)
	servers := []struct {
		key   string
		mode  smtpkit.Security
		mechs []string
	}{
		{"PEERS_SMTP_AUTH_CLEARTEXT", smtpkit.SecurityNone, []string{sasl.CRAMMD5, sasl.SCRAMSHA1, sasl.SCRAMSHA256}},
		{"PEERS_SMTP_DOVECOT", smtpkit.SecurityNone, []string{sasl.CRAMMD5, sasl.SCRAMSHA1, sasl.SCRAMSHA256}},
		{"PEERS_SMTP_SUBMISSION", smtpkit.SecurityStartTLS, []string{sasl.Plain, sasl.Login, sasl.CRAMMD5, sasl.SCRAMSHA1, sasl.SCRAMSHA256}},
		{"PEERS_SMTPS", smtpkit.SecurityImplicitTLS, []string{sasl.Plain, sasl.Login, sasl.CRAMMD5, sasl.SCRAMSHA1, sasl.SCRAMSHA256}},
	}
	for _, s := range servers {
		addr := p.addr(t, s.key)
		for _, m := range s.mechs {
			t.Run(s.key+"/"+m, func(t *testing.T) {
				c, err := smtpkit.Dial(testContext(t), addr, p.authOptions(t, s.mode, m))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Quit(testContext(t))
				if c.AuthMechanism() != m {
					t.Errorf("AuthMechanism() = %q, want %q", c.AuthMechanism(), m)
				}
			})
		}
		t.Run(s.key+"/automatic", func(t *testing.T) {
			mech, err := smtpkit.ValidateCredentials(testContext(t), addr, p.authOptions(t, s.mode))
			if err != nil || mech != sasl.SCRAMSHA256 {
				t.Errorf("ValidateCredentials = %q, %v; want SCRAM-SHA-256, the strongest offered", mech, err)
			}
		})
		t.Run(s.key+"/wrong password", func(t *testing.T) {
			opts := p.authOptions(t, s.mode, sasl.CRAMMD5)
			opts.Auth.Password = "not-the-password"
			_, err := smtpkit.ValidateCredentials(testContext(t), addr, opts)
			var e *smtpkit.Error
			if !errors.Is(err, smtpkit.ErrAuthFailed) || !errors.As(err, &e) || e.Code != 535 {
				t.Errorf("err = %v, want ErrAuthFailed with Postfix's 535", err)
			}
		})
	}
}

// TestAuthCleartextRuleAgainstPostfix: 2526 offers PLAIN and LOGIN without
// TLS; they are used only with the opt-in.
func TestAuthCleartextRuleAgainstPostfix(t *testing.T) {
	p := needPeers(t)
	addr := p.addr(t, "PEERS_SMTP_AUTH_CLEARTEXT")
	opts := p.authOptions(t, smtpkit.SecurityNone, sasl.Plain, sasl.Login)
	if _, err := smtpkit.ValidateCredentials(testContext(t), addr, opts); !errors.Is(err, smtpkit.ErrCleartextAuth) {
		t.Errorf("PLAIN/LOGIN without TLS: %v, want ErrCleartextAuth", err)
	}
	opts.Auth.AllowCleartext = true
	if mech, err := smtpkit.ValidateCredentials(testContext(t), addr, opts); err != nil || mech != sasl.Plain {
		t.Errorf("with AllowCleartext: %q, %v", mech, err)
	}
}

// jwt makes an HS256 token the Dovecot peer accepts for user, as
// interop/peers.sh token does.
func (p *peers) jwt(t *testing.T, user string) string {
	t.Helper()
	raw, err := os.ReadFile(p.get(t, "PEERS_OAUTH_HS256_KEY_B64_FILE"))
	if err != nil {
		absent(t, err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("the OAuth key file: %v", err)
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now().Unix()
	signed := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." +
		enc(map[string]any{"sub": user, "iat": now, "nbf": now, "exp": now + 3600})
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestAuthOAuthAgainstDovecot(t *testing.T) {
	p := needPeers(t)
	addr := p.addr(t, "PEERS_SMTP_DOVECOT")
	user := p.get(t, "PEERS_SMTP_USER")
	for _, m := range []string{sasl.XOAUTH2, sasl.OAUTHBEARER} {
		t.Run(m, func(t *testing.T) {
			opts := p.options(t, smtpkit.SecurityNone)
			opts.Auth = &smtpkit.Auth{Username: user, Token: p.jwt(t, user), Mechanisms: []string{m}, AllowCleartext: true}
			if mech, err := smtpkit.ValidateCredentials(testContext(t), addr, opts); err != nil || mech != m {
				t.Errorf("good token: %q, %v", mech, err)
			}
			opts.Auth.Token = p.jwt(t, "someone-else")
			_, err := smtpkit.ValidateCredentials(testContext(t), addr, opts)
			var oe *sasl.OAuthError
			// Dovecot says "401" to XOAUTH2 and "invalid_token" to OAUTHBEARER.
			if !errors.Is(err, smtpkit.ErrAuthFailed) || !errors.As(err, &oe) || oe.Status == "" {
				t.Errorf("token for another user: %v, want ErrAuthFailed with the server's status", err)
			}
		})
	}
}
