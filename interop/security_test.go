package interop_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
)

// Postfix's message_size_limit in peers.sh.
const postfixSizeLimit = 10485760

// shortGreeting is the GreetingTimeout of dials that are expected to wait
// for a greeting that never comes (plaintext modes against implicit TLS).
const shortGreeting = 500 * time.Millisecond

// The Postfix instances the suite runs against, by their peers.env key.
var servers = []struct {
	name string
	key  string
}{
	{"plain", keyPlain},
	{"bare", keyBare},
	{"submission", keySubmission},
	{"smtps", keySMTPS},
}

// expect is what a Dial in one mode against one server should give: a
// session in security, or an error in phase matching check.
type expect struct {
	security smtpkit.Security
	phase    smtpkit.Phase // empty: the Dial succeeds
	check    func(error) bool
	what     string // the expected error, for messages
}

func succeeds(s smtpkit.Security) expect { return expect{security: s} }

var (
	tlsNotOffered = expect{phase: smtpkit.PhaseSTARTTLS, what: "ErrTLSNotOffered",
		check: func(err error) bool { return errors.Is(err, smtpkit.ErrTLSNotOffered) }}
	plaintextAnswer = expect{phase: smtpkit.PhaseTLS, what: "a TLS record header error (the server answered in plaintext)",
		check: func(err error) bool { return errors.As(err, new(tls.RecordHeaderError)) }}
	greetingTimeout = expect{phase: smtpkit.PhaseGreeting, what: "ErrGreetingTimeout",
		check: func(err error) bool { return errors.Is(err, smtpkit.ErrGreetingTimeout) }}
)

// modeMatrix is the README's table of security modes, against real Postfix:
// per mode, the outcome on plain, bare, submission and smtps.
var modeMatrix = []struct {
	mode smtpkit.Security
	want [4]expect
}{
	{smtpkit.SecurityNone, [4]expect{succeeds(smtpkit.SecurityNone), succeeds(smtpkit.SecurityNone), succeeds(smtpkit.SecurityNone), greetingTimeout}},
	{smtpkit.SecurityStartTLSIfOffered, [4]expect{succeeds(smtpkit.SecurityNone), succeeds(smtpkit.SecurityNone), succeeds(smtpkit.SecurityStartTLS), greetingTimeout}},
	{smtpkit.SecurityStartTLS, [4]expect{tlsNotOffered, tlsNotOffered, succeeds(smtpkit.SecurityStartTLS), greetingTimeout}},
	{smtpkit.SecurityImplicitTLS, [4]expect{plaintextAnswer, plaintextAnswer, plaintextAnswer, succeeds(smtpkit.SecurityImplicitTLS)}},
	{smtpkit.SecurityAuto, [4]expect{succeeds(smtpkit.SecurityNone), succeeds(smtpkit.SecurityNone), succeeds(smtpkit.SecurityStartTLS), succeeds(smtpkit.SecurityImplicitTLS)}},
	{smtpkit.SecurityTLSAuto, [4]expect{tlsNotOffered, tlsNotOffered, succeeds(smtpkit.SecurityStartTLS), succeeds(smtpkit.SecurityImplicitTLS)}},
}

// TestSecurityModes dials every Postfix instance in every security mode.
// Auto and TLS-auto reach each server under a fresh name, so each Dial
// detects the mode itself, whatever a Dialer may have remembered.
// Port 2525 is one the library treats as plaintext-first (it waits for the
// greeting before trying TLS); 2528, 2587 and 2465 follow no convention, so
// there Auto races a TLS handshake against the plaintext greeting.
func TestSecurityModes(t *testing.T) {
	p := needPeers(t)
	for _, row := range modeMatrix {
		for i, srv := range servers {
			want := row.want[i]
			t.Run(row.mode.String()+"/"+srv.name, func(t *testing.T) {
				t.Parallel()
				opts := p.options(t, row.mode)
				addr := p.addr(t, srv.key)
				if row.mode == smtpkit.SecurityAuto || row.mode == smtpkit.SecurityTLSAuto {
					addr, opts.Dialer = p.fresh(t, srv.key)
				}
				if want.phase == smtpkit.PhaseGreeting {
					opts.GreetingTimeout = shortGreeting
				}
				warnings := &warnCounter{}
				opts.Logger = slog.New(warnings)
				ctx := testContext(t)

				c, err := smtpkit.Dial(ctx, addr, opts)
				if want.phase != "" {
					if c != nil {
						c.Close()
						t.Fatalf("Dial succeeded in %s; want %s in phase %s", c.Security(), want.what, want.phase)
					}
					if got := phaseOf(t, err); got != want.phase || !want.check(err) {
						t.Fatalf("Dial: %v (phase %s); want %s in phase %s", err, got, want.what, want.phase)
					}
					return
				}
				if err != nil {
					t.Fatalf("Dial: %v; want a session in %s", err, want.security)
				}
				defer c.Close()
				checkSession(t, c, srv.key, want.security)
				if row.mode == smtpkit.SecurityAuto {
					n := warnings.n.Load()
					if want.security == smtpkit.SecurityNone && n == 0 {
						t.Error("Auto went on in plaintext without logging a warning")
					}
					if want.security != smtpkit.SecurityNone && n != 0 {
						t.Errorf("Auto logged %d warnings for a session in %s", n, want.security)
					}
				}
				checkCommands(t, c)
			})
		}
	}
}

// checkSession checks the greeting, the security, the TLS state and the
// capabilities of a session with the Postfix instance at key.
func checkSession(t *testing.T, c *smtpkit.Client, key string, want smtpkit.Security) {
	t.Helper()
	if got := c.Security(); got != want {
		t.Errorf("Security() = %s, want %s", got, want)
	}
	if g := c.Greeting(); g.Code != 220 || !strings.Contains(g.Text(), "ESMTP") {
		t.Errorf("greeting %q, want a 220 ESMTP greeting", g)
	}
	st, tlsOn := c.TLSConnectionState()
	switch {
	case want == smtpkit.SecurityNone && tlsOn:
		t.Errorf("TLSConnectionState reports TLS in a %s session", want)
	case want != smtpkit.SecurityNone && !tlsOn:
		t.Errorf("TLSConnectionState reports no TLS in a %s session", want)
	case tlsOn:
		if st.Version != tls.VersionTLS13 {
			t.Errorf("TLS version %s, want TLS 1.3 (Postfix with OpenSSL 3)", tls.VersionName(st.Version))
		}
		if !st.HandshakeComplete || len(st.VerifiedChains) == 0 {
			t.Errorf("handshake complete %v, %d verified chains; want a verified handshake", st.HandshakeComplete, len(st.VerifiedChains))
		}
		if len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "localhost" {
			t.Errorf("server certificate is not the peers' localhost certificate")
		}
	}
	checkCapabilities(t, c.Capabilities(), key, tlsOn)
}

// checkCapabilities checks what each Postfix instance announces, before and after TLS.
func checkCapabilities(t *testing.T, caps smtpkit.Capabilities, key string, tlsOn bool) {
	t.Helper()
	if !caps.ESMTP() {
		t.Fatalf("ESMTP() = false: Postfix accepts EHLO")
	}
	if key == keyBare {
		if lines := caps.Lines(); len(lines) != 0 {
			t.Errorf("bare server: capability lines %q, want none", lines)
		}
		if _, ok := caps.Size(); ok || caps.Pipelining() || caps.StartTLS() || len(caps.AuthMechanisms()) != 0 {
			t.Errorf("bare server: capabilities announced: %q", caps.Lines())
		}
		return
	}
	defer func() {
		if t.Failed() {
			t.Logf("capabilities: %q", caps.Lines())
		}
	}()
	if n, ok := caps.Size(); !ok || n != postfixSizeLimit {
		t.Errorf("Size() = %d, %v; want %d, true", n, ok, postfixSizeLimit)
	}
	if !caps.Pipelining() || !caps.Chunking() || !caps.EnhancedStatusCodes() || !caps.EightBitMIME() {
		t.Errorf("Postfix's PIPELINING, CHUNKING, ENHANCEDSTATUSCODES or 8BITMIME missing")
	}
	auth := caps.AuthMechanisms()
	switch key {
	case keyPlain:
		if caps.StartTLS() || len(auth) != 0 {
			t.Errorf("plain server: STARTTLS %v, AUTH %q; want neither", caps.StartTLS(), auth)
		}
		if !caps.DSN() || !caps.SMTPUTF8() || !caps.Has("VRFY") || !caps.Has("ETRN") {
			t.Errorf("plain server: DSN, SMTPUTF8, VRFY or ETRN missing")
		}
	case keySubmission:
		if !tlsOn {
			if !caps.StartTLS() || len(auth) != 0 {
				t.Errorf("submission before TLS: STARTTLS %v, AUTH %q; want STARTTLS and no AUTH", caps.StartTLS(), auth)
			}
			return
		}
		fallthrough
	case keySMTPS:
		if caps.StartTLS() {
			t.Error("STARTTLS announced over TLS")
		}
		for _, m := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
			if !slices.Contains(auth, m) {
				t.Errorf("AUTH over TLS %q lacks %s", auth, m)
			}
		}
	}
}

// checkCommands runs NOOP, RSET and QUIT, then checks the Client refuses
// more. On 2587 in plaintext Postfix refuses RSET until STARTTLS (530
// 5.7.0): the refusal must come back as an *Error with the server's codes,
// and the session must go on.
func checkCommands(t *testing.T, c *smtpkit.Client) {
	t.Helper()
	ctx := testContext(t)
	if err := c.Noop(ctx); err != nil {
		t.Errorf("Noop: %v", err)
	}
	refusesRSET := c.Capabilities().StartTLS() && c.Security() == smtpkit.SecurityNone
	err := c.Reset(ctx)
	var e *smtpkit.Error
	switch {
	case !refusesRSET && err != nil:
		t.Errorf("Reset: %v", err)
	case refusesRSET && (!errors.As(err, &e) || e.Phase != smtpkit.PhaseReset || e.Code != 530 || e.Enhanced != [3]int{5, 7, 0}):
		t.Errorf("Reset before STARTTLS on a server that requires it: %v; want an *Error in phase rset, 530 5.7.0", err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Errorf("Noop after Reset: %v", err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
	if err := c.Noop(ctx); !errors.Is(err, smtpkit.ErrClosed) {
		t.Errorf("Noop after Quit: %v, want ErrClosed", err)
	}
}

// TestSubmissionAnnouncesAUTHOnlyAfterSTARTTLS reads 2587's capabilities in
// plaintext, then after STARTTLS: the library keeps only the post-TLS set.
func TestSubmissionAnnouncesAUTHOnlyAfterSTARTTLS(t *testing.T) {
	p := needPeers(t)
	addr := p.addr(t, keySubmission)
	for _, mode := range []smtpkit.Security{smtpkit.SecurityNone, smtpkit.SecurityStartTLS} {
		c, err := smtpkit.Dial(testContext(t), addr, p.options(t, mode))
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		caps := c.Capabilities()
		c.Quit(testContext(t))
		offered, auth := caps.StartTLS(), caps.AuthMechanisms()
		switch {
		case mode == smtpkit.SecurityNone && (!offered || len(auth) != 0):
			t.Errorf("before TLS: STARTTLS %v, AUTH %q; want STARTTLS, no AUTH", offered, auth)
		case mode == smtpkit.SecurityStartTLS && (offered || len(auth) == 0):
			t.Errorf("after STARTTLS: STARTTLS %v, AUTH %q; want AUTH, no STARTTLS", offered, auth)
		}
	}
}

// TestBareServerEHLOWithoutExtensions: 2528 accepts EHLO and announces nothing.
func TestBareServerEHLOWithoutExtensions(t *testing.T) {
	p := needPeers(t)
	c, err := smtpkit.Dial(testContext(t), p.addr(t, keyBare), p.options(t, smtpkit.SecurityStartTLSIfOffered))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps := c.Capabilities()
	if !caps.ESMTP() || len(caps.Lines()) != 0 {
		t.Errorf("ESMTP %v, lines %q; want EHLO accepted with no extensions", caps.ESMTP(), caps.Lines())
	}
	if c.Security() != smtpkit.SecurityNone {
		t.Errorf("Security() = %s, want none", c.Security())
	}
	checkCommands(t, c)
}

// TestServerNameAndCertificateChecks: the default ServerName is the host of
// the address (the peers' certificate names localhost and 127.0.0.1), and a
// certificate that does not verify fails in the TLS phase in every mode that
// reaches TLS, Auto and TLS-auto included: never a reason to try plaintext.
func TestServerNameAndCertificateChecks(t *testing.T) {
	p := needPeers(t)
	smtps, submission := p.addr(t, keySMTPS), p.addr(t, keySubmission)
	_, port, _ := strings.Cut(smtps, ":")

	t.Run("default ServerName", func(t *testing.T) {
		for _, addr := range []string{smtps, "localhost:" + port} {
			opts := p.options(t, smtpkit.SecurityImplicitTLS)
			opts.TLSConfig = p.caOnly(t) // no ServerName: the library takes the host
			c, err := smtpkit.Dial(testContext(t), addr, opts)
			if err != nil {
				t.Errorf("%s: %v", addr, err)
				continue
			}
			if st, _ := c.TLSConnectionState(); len(st.VerifiedChains) == 0 {
				t.Errorf("%s: no verified chain", addr)
			}
			c.Quit(testContext(t))
		}
	})

	unknownCA := func(cfg *tls.Config) { cfg.RootCAs = x509.NewCertPool() }
	wrongName := func(cfg *tls.Config) { cfg.ServerName = "mail.example.com" }
	cases := []struct {
		name  string
		alter func(*tls.Config)
		check func(error) bool
	}{
		{"unknown CA", unknownCA, func(err error) bool { return errors.As(err, new(x509.UnknownAuthorityError)) }},
		{"wrong name", wrongName, func(err error) bool { return errors.As(err, new(x509.HostnameError)) }},
	}
	for _, cs := range cases {
		for _, tc := range []struct {
			mode   smtpkit.Security
			server string
			key    string
			addr   string // empty: a fresh name, so Auto probes
		}{
			{smtpkit.SecurityImplicitTLS, "smtps", keySMTPS, smtps},
			{smtpkit.SecurityStartTLS, "submission", keySubmission, submission},
			{smtpkit.SecurityStartTLSIfOffered, "submission", keySubmission, submission},
			{smtpkit.SecurityAuto, "smtps", keySMTPS, ""},
			{smtpkit.SecurityAuto, "submission", keySubmission, ""},
			{smtpkit.SecurityTLSAuto, "smtps", keySMTPS, ""},
			{smtpkit.SecurityTLSAuto, "submission", keySubmission, ""},
		} {
			t.Run(cs.name+"/"+tc.mode.String()+"/"+tc.server, func(t *testing.T) {
				t.Parallel()
				opts := p.options(t, tc.mode)
				cs.alter(opts.TLSConfig)
				addr := tc.addr
				if addr == "" {
					addr, opts.Dialer = p.fresh(t, tc.key)
				}
				c, err := smtpkit.Dial(testContext(t), addr, opts)
				if c != nil {
					c.Close()
					t.Fatalf("Dial succeeded in %s with a certificate that must not verify", c.Security())
				}
				if phaseOf(t, err) != smtpkit.PhaseTLS || !cs.check(err) {
					t.Errorf("Dial: %v; want a certificate error in phase tls", err)
				}
			})
		}
	}
}
