package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/smtptest"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	goleak.VerifyTestMain(m)
}

// testContext returns a context that ends the test's calls if they hang.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// delivery is one message a test server took.
type delivery struct {
	From    string
	To      []string
	Data    []byte
	Helo    string    // the client's EHLO name
	Dot     time.Time // when the end of the data arrived
	At      time.Time // when the server decided to accept it
	Dropped bool      // the connection was closed instead of the reply
}

// recorder is a go-smtp backend that records what it accepts and lets a
// test decide each reply.
type recorder struct {
	// mail and rcpt, when set, answer MAIL and each RCPT: nil accepts.
	mail func(from string) error
	rcpt func(to string) error
	// data, when set, answers the end of the data of a message that was
	// read whole: nil accepts it. It may block, holding the reply back.
	data func(d *delivery) error
	// drop, when set and true for an accepted message, closes the
	// connection instead of answering: the message is taken but the
	// client never hears so (RFC 1047).
	drop func(d *delivery) bool
	// reading, when set, is called as the data comes in, with the bytes
	// read so far; it may block, stalling the transfer.
	reading func(d *delivery, read int64)
	// discard keeps no message content, for large messages.
	discard bool

	mu  sync.Mutex
	got []delivery
}

func (rec *recorder) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &recSession{rec: rec, conn: c}, nil
}

// deliveries returns a copy of what was accepted so far.
func (rec *recorder) deliveries() []delivery {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]delivery(nil), rec.got...)
}

type recSession struct {
	rec  *recorder
	conn *smtp.Conn
	from string
	to   []string
	size int64 // declared with SIZE=
}

func (s *recSession) Mail(from string, opts *smtp.MailOptions) error {
	if s.rec.mail != nil {
		if err := s.rec.mail(from); err != nil {
			return err
		}
	}
	s.from, s.to, s.size = from, nil, 0
	if opts != nil {
		s.size = opts.Size
	}
	return nil
}

func (s *recSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.rec.rcpt != nil {
		if err := s.rec.rcpt(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *recSession) Data(r io.Reader) error {
	d := &delivery{From: s.from, To: s.to, Helo: s.conn.Hostname()}
	var buf bytes.Buffer
	var w io.Writer = &buf
	if s.rec.discard {
		w = io.Discard
	}
	chunk := make([]byte, 32<<10)
	var read int64
	for {
		n, err := r.Read(chunk)
		w.Write(chunk[:n])
		read += int64(n)
		if n > 0 && s.rec.reading != nil {
			s.rec.reading(d, read)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	// go-smtp ends a BDAT chunk early, without an error, when the
	// connection closes in its middle; a real server counts. The runner
	// declares the exact size of the test messages (CRLF already).
	if s.size > 0 && read != s.size {
		return smtpError(554, [3]int{5, 5, 0}, fmt.Sprintf("got %d bytes of %d", read, s.size))
	}
	d.Data = buf.Bytes()
	d.Dot = time.Now()
	if s.rec.data != nil {
		if err := s.rec.data(d); err != nil {
			return err
		}
	}
	d.At = time.Now()
	if s.rec.drop != nil && s.rec.drop(d) {
		d.Dropped = true
		s.conn.Conn().Close()
	}
	s.rec.mu.Lock()
	s.rec.got = append(s.rec.got, *d)
	s.rec.mu.Unlock()
	return nil
}

func (s *recSession) Reset()        { s.from, s.to = "", nil }
func (s *recSession) Logout() error { return nil }

// newServer starts a plaintext server answering through rec.
func newServer(t testing.TB, rec *recorder) *smtptest.Server {
	t.Helper()
	srv := smtptest.NewUnstartedServer(smtptest.Plain)
	srv.Config.Backend = rec
	srv.Config.MaxMessageBytes = 2 << 30
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// testOptions are the client options of the tests: plaintext, and short
// time limits so a test that goes wrong fails instead of hanging.
func testOptions() smtpkit.Options {
	return smtpkit.Options{
		Security:        smtpkit.SecurityNone,
		ConnectTimeout:  5 * time.Second,
		GreetingTimeout: 5 * time.Second,
		CommandTimeout:  10 * time.Second,
		DataTimeout:     20 * time.Second,
	}
}

// newPool returns a pool to addr that the test closes.
func newPool(t testing.TB, addr string) *smtpkit.Pool {
	t.Helper()
	p := &smtpkit.Pool{Addr: addr, Dialer: &smtpkit.Dialer{Options: testOptions()}, MaxConns: 2}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return p
}

// openSpool opens a spool in a new temporary directory.
func openSpool(t testing.TB) *outbox.Spool {
	t.Helper()
	s, err := outbox.OpenSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// message returns the content of test message n: a header naming it and
// size bytes of a body that depends on n, in CRLF lines.
func message(n, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Subject: message %d\r\nMessage-ID: <%d@outbox.test>\r\n\r\n", n, n)
	line := 0
	for b.Len() < size {
		fmt.Fprintf(&b, "message %d line %d: the quick brown fox jumps over the lazy dog\r\n", n, line)
		line++
	}
	return b.Bytes()
}

// enqueue enqueues message n to the recipients and fails the test on error.
func enqueue(t testing.TB, s outbox.Store, n, size int, to ...string) string {
	t.Helper()
	if len(to) == 0 {
		to = []string{fmt.Sprintf("rcpt%d@y.test", n)}
	}
	id, err := s.Enqueue(testContext(t), &smtpkit.Envelope{From: fmt.Sprintf("sender%d@x.test", n), To: to},
		bytes.NewReader(message(n, size)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// smtpError is an SMTP reply for a go-smtp backend to give.
func smtpError(code int, enhanced [3]int, text string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(enhanced), Message: text}
}

// waitFor polls cond until it holds or the test's patience ends.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// listAll lists the spool and fails the test on error.
func listAll(t testing.TB, s outbox.Store) []outbox.Entry {
	t.Helper()
	es, err := s.List(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	return es
}
