package smtptest_test

import (
	"errors"
	"testing"

	gosasl "github.com/emersion/go-sasl"

	"github.com/smtpkit/smtpkit/sasl"
	"github.com/smtpkit/smtpkit/smtptest"
)

// scriptedClient is a SASL client that sends fixed messages, whatever the
// server says, to test how the server takes broken clients.
type scriptedClient struct {
	mech      string
	initial   []byte
	responses [][]byte
}

func (c *scriptedClient) Start() (string, []byte, error) {
	return c.mech, c.initial, nil
}

func (c *scriptedClient) Next(challenge []byte) ([]byte, error) {
	if len(c.responses) == 0 {
		return nil, errors.New("script ended")
	}
	r := c.responses[0]
	c.responses = c.responses[1:]
	return r, nil
}

func TestAuthMalformedResponses(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS, "CRAM-MD5", "XOAUTH2", "OAUTHBEARER", "SCRAM-SHA-256")
	for _, tc := range []struct {
		name   string
		client *scriptedClient
		code   int
	}{
		{"CRAM-MD5 initial response", &scriptedClient{mech: "CRAM-MD5", initial: []byte("alice x")}, 501},
		{"CRAM-MD5 without digest", &scriptedClient{mech: "CRAM-MD5", responses: [][]byte{[]byte("alice")}}, 501},
		{"XOAUTH2 garbage", &scriptedClient{mech: "XOAUTH2", initial: []byte("garbage")}, 501},
		{"XOAUTH2 without initial response", &scriptedClient{mech: "XOAUTH2", responses: [][]byte{[]byte("user=alice\x01auth=Bearer good-token\x01\x01")}}, 235},
		{"XOAUTH2 non-empty answer to the refusal", &scriptedClient{mech: "XOAUTH2", initial: []byte("user=alice\x01auth=Bearer bad\x01\x01"), responses: [][]byte{[]byte("x")}}, 501},
		{"XOAUTH2 other scheme", &scriptedClient{mech: "XOAUTH2", initial: []byte("user=alice\x01auth=Basic good-token\x01\x01")}, 501},
		{"OAUTHBEARER garbage", &scriptedClient{mech: "OAUTHBEARER", initial: []byte("garbage")}, 501},
		{"OAUTHBEARER no auth pair", &scriptedClient{mech: "OAUTHBEARER", initial: []byte("n,a=alice,\x01host=x\x01\x01")}, 501},
		{"OAUTHBEARER bad escape", &scriptedClient{mech: "OAUTHBEARER", initial: []byte("n,a=al=ice,\x01auth=Bearer good-token\x01\x01")}, 501},
		{"OAUTHBEARER channel binding", &scriptedClient{mech: "OAUTHBEARER", initial: []byte("p=tls-unique,,\x01auth=Bearer good-token\x01\x01")}, 501},
		{"OAUTHBEARER empty answer to the refusal", &scriptedClient{mech: "OAUTHBEARER", initial: []byte("n,a=alice,\x01auth=Bearer bad\x01\x01"), responses: [][]byte{{}}}, 501},
		{"OAUTHBEARER extension pair", &scriptedClient{mech: "OAUTHBEARER", initial: []byte("n,a=alice,\x01x-ext=1\x01auth=bearer good-token\x01\x01")}, 235},
		{"SCRAM garbage", &scriptedClient{mech: "SCRAM-SHA-256", initial: []byte("garbage")}, 535},
		{"SCRAM flag p without -PLUS", &scriptedClient{mech: "SCRAM-SHA-256", initial: []byte("p=tls-exporter,,n=alice,r=abcdef")}, 535},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := dial(t, srv).Auth(tc.client)
			if tc.code == 235 {
				if err != nil {
					t.Fatalf("Auth: %v", err)
				}
				return
			}
			wantCode(t, err, tc.code)
		})
	}
}

// TestAuthSCRAMFinalAnswer checks that the server wants an empty response
// to its final message before it says 235.
func TestAuthSCRAMFinalAnswer(t *testing.T) {
	srv := newAuthServer(t, smtptest.StartTLS, "SCRAM-SHA-256")
	client := must(sasl.NewSCRAMClient(sasl.SCRAMSHA256, "alice", "secret", "", nil))
	err := dial(t, srv).Auth(&nonEmptyLast{client: client})
	wantCode(t, err, 501)
}

// nonEmptyLast wraps a SCRAM client and answers the server-final message
// with "x" instead of nothing.
type nonEmptyLast struct {
	client gosasl.Client
	n      int
}

func (c *nonEmptyLast) Start() (string, []byte, error) { return c.client.Start() }

func (c *nonEmptyLast) Next(challenge []byte) ([]byte, error) {
	c.n++
	r, err := c.client.Next(challenge)
	if c.n == 2 && err == nil {
		return []byte("x"), nil
	}
	return r, err
}

// TestAuthOAuthBearerEscapedName checks a user name holding "," and "=",
// which OAUTHBEARER sends escaped.
func TestAuthOAuthBearerEscapedName(t *testing.T) {
	srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
	srv.Tokens = map[string]string{"a,b=c": "tok"}
	srv.Start()
	defer srv.Close()
	c := dial(t, srv)
	authenticate(t, c, must(sasl.NewOAUTHBEARERClient("a,b=c", "tok", "", 0)))
	sendAndCheck(t, srv, c, "a,b=c", "OAUTHBEARER")
}
