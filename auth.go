package smtpkit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	gosasl "github.com/emersion/go-sasl"

	"github.com/smtpkit/smtpkit/sasl"
)

// Auth holds what is needed to log in, and which mechanisms may be used.
//
// The mechanism is chosen among those the server offers and Mechanisms
// allows, strongest first: SCRAM with channel binding, SCRAM, NTLM,
// CRAM-MD5, PLAIN, LOGIN; with a Token, OAUTHBEARER and XOAUTH2 come first.
// EXTERNAL and ANONYMOUS are used only when Mechanisms names them. A server
// that answers 504, 534 or 538 (mechanism unknown, too weak, needs
// encryption) leads to the next mechanism; 535 (wrong credentials) ends the
// login at once.
type Auth struct {
	// Username is the login name.
	Username string
	// Password is the secret for the password mechanisms.
	Password string
	// Token is an OAuth 2 access token, for XOAUTH2 and OAUTHBEARER.
	Token string
	// Identity is the authorization identity to act as, when it differs
	// from Username; rarely needed.
	Identity string
	// Mechanisms lists the mechanisms allowed by name, such as
	// "SCRAM-SHA-256" or "PLAIN"; empty allows every mechanism that fits
	// the credentials given.
	Mechanisms []string
	// AllowCleartext allows mechanisms that reveal the password or token to
	// anyone who can read the connection (PLAIN, LOGIN, XOAUTH2,
	// OAUTHBEARER) on a connection without TLS.
	AllowCleartext bool
	// Client, when set, is the only mechanism tried: any go-sasl Client,
	// such as those of package sasl. The cleartext rule is then the caller's.
	Client gosasl.Client
}

// Sentinel errors of logging in, matched with errors.Is.
var (
	// ErrAuthFailed means the server refused the credentials (535).
	ErrAuthFailed = errors.New("the server refused the credentials: wrong user name, password or token")
	// ErrAuthNotOffered means the server offers no AUTH at all.
	ErrAuthNotOffered = errors.New("the server offers no authentication")
	// ErrNoCommonMechanism means no mechanism is both offered by the server and allowed.
	ErrNoCommonMechanism = errors.New("no mechanism is both offered by the server and allowed")
	// ErrCleartextAuth means the only usable mechanisms would reveal the secret on a connection without TLS.
	ErrCleartextAuth = errors.New("refusing to send a password or token over a connection without TLS")
)

// strength orders the mechanisms for the automatic choice, strongest first.
var strength = []string{
	sasl.External,
	sasl.OAUTHBEARER, sasl.XOAUTH2,
	sasl.SCRAMSHA512Plus, sasl.SCRAMSHA256Plus, sasl.SCRAMSHA1Plus,
	sasl.SCRAMSHA512, sasl.SCRAMSHA256, sasl.SCRAMSHA1,
	sasl.NTLM, sasl.CRAMMD5, sasl.Plain, sasl.Login,
	sasl.Anonymous,
}

// revealsSecret lists the mechanisms that send the password or token as it is.
var revealsSecret = map[string]bool{sasl.Plain: true, sasl.Login: true, sasl.XOAUTH2: true, sasl.OAUTHBEARER: true}

// explicitOnly lists the mechanisms never chosen unless Auth.Mechanisms names them.
var explicitOnly = map[string]bool{sasl.External: true, sasl.Anonymous: true}

// maxAuthRounds bounds the challenges of one exchange, against a server that never ends it.
const maxAuthRounds = 16

// AuthMechanism returns the mechanism of the successful login, or "" before one.
func (c *Client) AuthMechanism() string { return c.authMech }

// Login authenticates the session with the strongest mechanism that the
// server offers and a allows (see Auth). It is also the way to check
// credentials on an open Client: the outcomes are told apart with
// errors.Is: ErrAuthFailed, ErrNoCommonMechanism, ErrAuthNotOffered,
// ErrCleartextAuth, ErrInvalidOptions (a nil or unusable Auth: nothing was
// sent), or a connection problem.
func (c *Client) Login(ctx context.Context, a *Auth) error {
	ctx, cancel := operation(ctx, c.t.opts.Timeout)
	defer cancel()
	return c.login(ctx, a)
}

func (c *Client) login(ctx context.Context, a *Auth) error {
	if a == nil {
		return &OptionError{Field: "Auth", Err: errors.New("no credentials: Login needs an Auth")}
	}
	if err := errors.Join(a.validate()...); err != nil {
		return err
	}
	if err := c.usable(PhaseAuth); err != nil {
		return err
	}
	if a.Client != nil {
		err := c.loginWith(ctx, "", func() (gosasl.Client, error) { return a.Client, nil })
		if c.t.p.tracing {
			c.t.emit(LoginDone{Conn: c.conn(), Mechanism: c.authMech, Err: err})
		}
		return err
	}
	mechs, err := c.chooseMechanisms(a)
	if err != nil {
		return err
	}
	var last error
	for i, m := range mechs {
		last = c.loginWith(ctx, m, func() (gosasl.Client, error) { return c.newMechanism(m, a) })
		var e *Error
		next := last != nil && errors.As(last, &e) && (e.Code == 504 || e.Code == 534 || e.Code == 538) && i+1 < len(mechs)
		if c.t.p.tracing {
			c.t.emit(LoginDone{Conn: c.conn(), Mechanism: m, Err: last, Next: next})
		}
		if !next {
			return last
		}
	}
	return last
}

// chooseMechanisms returns the mechanisms to try, strongest first.
func (c *Client) chooseMechanisms(a *Auth) ([]string, error) {
	fail := func(err error, hints ...Hint) error {
		return &Error{Phase: PhaseAuth, Addr: c.t.addr, Err: err, Hints: hints}
	}
	offered := c.caps.AuthMechanisms()
	if len(offered) == 0 {
		if c.tlsState == nil && c.caps.StartTLS() {
			return nil, fail(fmt.Errorf("%w before TLS; it may offer it after STARTTLS", ErrAuthNotOffered),
				Hint{Field: "Security", Value: SecurityStartTLS})
		}
		return nil, fail(ErrAuthNotOffered)
	}
	allowed := map[string]bool{}
	for _, m := range a.Mechanisms {
		allowed[strings.ToUpper(strings.TrimSpace(m))] = true
	}
	var out []string
	cleartextSkipped := false
	for _, m := range strength {
		switch {
		case !slices.Contains(offered, m):
		case len(allowed) > 0 && !allowed[m]:
		case len(allowed) == 0 && explicitOnly[m]:
		case !a.fits(m):
		case revealsSecret[m] && c.tlsState == nil && !a.AllowCleartext:
			cleartextSkipped = true
		default:
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		if cleartextSkipped {
			hints := []Hint{{Field: "Auth.AllowCleartext", Value: true}}
			if c.caps.StartTLS() {
				hints = append([]Hint{{Field: "Security", Value: SecurityStartTLS}}, hints...)
			}
			return nil, fail(ErrCleartextAuth, hints...)
		}
		return nil, fail(fmt.Errorf("%w: the server offers %s", ErrNoCommonMechanism, strings.Join(offered, " ")))
	}
	return out, nil
}

// fits reports whether the credentials given suit mechanism m.
func (a *Auth) fits(m string) bool {
	switch m {
	case sasl.XOAUTH2, sasl.OAUTHBEARER:
		return a.Token != ""
	case sasl.External, sasl.Anonymous:
		return true
	}
	return a.Password != ""
}

// newMechanism makes the client side of mechanism m.
func (c *Client) newMechanism(m string, a *Auth) (gosasl.Client, error) {
	switch m {
	case sasl.Plain:
		return sasl.NewPlainClient(a.Identity, a.Username, a.Password)
	case sasl.Login:
		return sasl.NewLoginClient(a.Username, a.Password)
	case sasl.CRAMMD5:
		return sasl.NewCRAMMD5Client(a.Username, a.Password)
	case sasl.NTLM:
		return sasl.NewNTLMClient(a.Username, a.Password)
	case sasl.XOAUTH2:
		return sasl.NewXOAUTH2Client(a.Username, a.Token)
	case sasl.OAUTHBEARER:
		host, port, _ := net.SplitHostPort(c.t.addr)
		p, _ := strconv.Atoi(port)
		return sasl.NewOAUTHBEARERClient(a.Username, a.Token, host, p)
	case sasl.External:
		return sasl.NewExternalClient(a.Identity)
	case sasl.Anonymous:
		return sasl.NewAnonymousClient(a.Username)
	}
	// SCRAM: bind to the TLS channel with -PLUS; without -PLUS, tell the
	// server the client could have bound ("y") only when it offers no -PLUS.
	state := c.tlsState
	if !strings.HasSuffix(m, "-PLUS") && slices.Contains(c.caps.AuthMechanisms(), m+"-PLUS") {
		state = nil
	}
	return sasl.NewSCRAMClient(m, a.Username, a.Password, a.Identity, state)
}

// loginWith runs one SASL exchange (RFC 4954) with the mechanism mk makes;
// name is the mechanism's, or "" to take the name its Start returns.
func (c *Client) loginWith(ctx context.Context, name string, mk func() (gosasl.Client, error)) error {
	fail := func(err error) error {
		return &Error{Phase: PhaseAuth, Addr: c.t.addr, Err: fmt.Errorf("%s: %w", name, err)}
	}
	mech, err := mk()
	if err != nil {
		return fail(err)
	}
	started, ir, err := mech.Start()
	if name == "" {
		name = started
	}
	if err != nil {
		return fail(err)
	}
	line, shown := "AUTH "+name, "AUTH "+name
	if ir != nil {
		resp := encodeResponse(ir)
		if resp == "" {
			resp = "=" // an empty initial response (RFC 4954)
		}
		line += " " + resp
		shown += " <redacted>"
	}
	if err := c.secret(ctx, line, shown); err != nil {
		return err
	}
	for range maxAuthRounds {
		r, err := c.authRead(ctx)
		if err != nil {
			return err
		}
		switch r.Code {
		case 235:
			if f, ok := mech.(sasl.Finisher); ok {
				if err := f.Finish(); err != nil {
					c.Close()
					if errors.Is(err, sasl.ErrServerSignature) {
						err = &unprovenLogin{err: err}
					}
					return fail(err)
				}
			}
			c.authMech = name
			return nil
		case 334:
		case 535:
			// A refusal: wrong credentials. The server has not proved
			// anything, and need not have: that is no sign of an impostor,
			// so a missing SCRAM signature is not mentioned; a refusal a
			// mechanism explains (an OAuth error) is.
			cause := ErrAuthFailed
			if f, ok := mech.(sasl.Finisher); ok {
				if detail := f.Finish(); detail != nil && !errors.Is(detail, sasl.ErrServerSignature) {
					cause = fmt.Errorf("%w (%w)", ErrAuthFailed, detail)
				}
			}
			return c.replyError(PhaseAuth, r, cause)
		default:
			return c.replyError(PhaseAuth, r, nil)
		}
		challenge, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Text()))
		if err != nil {
			return c.cancelAuth(ctx, fail(fmt.Errorf("%w: the challenge is not base64", ErrProtocol)))
		}
		resp, err := mech.Next(challenge)
		if err != nil {
			return c.cancelAuth(ctx, fail(err))
		}
		if err := c.secret(ctx, encodeResponse(resp), "<redacted>"); err != nil {
			return err
		}
	}
	return c.cancelAuth(ctx, fail(fmt.Errorf("%w: the server sent more than %d challenges", ErrProtocol, maxAuthRounds)))
}

// unprovenLogin is the cause when a server accepted a login without the
// proof its mechanism requires of it (a SCRAM server signature): it may be
// an impostor that accepts any password. errors.Is finds
// sasl.ErrServerSignature in it.
type unprovenLogin struct{ err error }

func (e *unprovenLogin) Error() string {
	return "the server accepted the login without proving that it knows the password, as the mechanism " +
		"requires: it may not be the server you meant (one that accepts any password), so the connection was closed"
}

func (e *unprovenLogin) Unwrap() error { return e.err }

// encodeResponse encodes a SASL response; an empty one is sent as "=" in
// the AUTH line (RFC 4954) and as an empty line after a challenge.
func encodeResponse(b []byte) string {
	return base64.StdEncoding.EncodeToString(b)
}

// secret buffers a line of the exchange, within the command limit; the
// transcript shows shown instead.
func (c *Client) secret(ctx context.Context, line, shown string) error {
	return c.write(ctx, PhaseAuth, c.t.opts.CommandTimeout, func() error { return c.wire.WriteSecret(line, shown) })
}

// authRead flushes and reads one reply of the exchange.
func (c *Client) authRead(ctx context.Context) (*Reply, error) {
	return c.reply(ctx, PhaseAuth, time.Now(), c.t.opts.CommandTimeout, ErrCommandTimeout)
}

// cancelAuth ends an exchange the client cannot continue with "*" (RFC
// 4954) and returns err once the server has answered.
func (c *Client) cancelAuth(ctx context.Context, err error) error {
	if werr := c.send(ctx, PhaseAuth, "*"); werr != nil {
		return err
	}
	if _, rerr := c.authRead(ctx); rerr != nil {
		return rerr
	}
	return err
}

// ValidateCredentials connects to addr as opts says, logs in with
// opts.Auth, and says QUIT: it checks a login without sending mail. It is
// the shorthand of Dialer.ValidateCredentials for a Dialer of one call.
func ValidateCredentials(ctx context.Context, addr string, opts *Options) (mechanism string, err error) {
	return newDialer(opts).ValidateCredentials(ctx, addr)
}

// ValidateCredentials connects to addr, logs in with Options.Auth, and
// says QUIT: it checks a login without sending mail. The outcomes are told
// apart with errors.Is: nil (accepted), ErrAuthFailed,
// ErrNoCommonMechanism, ErrAuthNotOffered, ErrCleartextAuth,
// ErrInvalidOptions, or a connection problem (an *Error of phase connect,
// greeting, tls, ...).
func (d *Dialer) ValidateCredentials(ctx context.Context, addr string) (mechanism string, err error) {
	if d.Options.Auth == nil {
		return "", &OptionError{Field: "Auth", Err: errors.New("no credentials to validate: set Auth")}
	}
	c, err := d.Dial(ctx, addr)
	if err != nil {
		return "", err
	}
	c.Quit(ctx)
	return c.authMech, nil
}
