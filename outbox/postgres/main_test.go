package postgres_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/outbox"
	"github.com/smtpkit/smtpkit/outbox/postgres"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	goleak.VerifyTestMain(m)
}

// The PostgreSQL server of the tests: SMTPKIT_POSTGRES_URL when set, or
// else PEERS_POSTGRES_URL of the env file that interop/peers.sh writes.
const (
	urlEnv          = "SMTPKIT_POSTGRES_URL"
	peersEnvFileEnv = "SMTPKIT_PEERS_ENV"
	defaultPeersEnv = "/tmp/peers/peers.env"
	peersURLKey     = "PEERS_POSTGRES_URL"
)

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
)

// baseURL returns the URL of the test server. When there is none the test
// is skipped with a hint how to start one, except under CI=true, where a
// missing server is a broken setup and fails the test.
func baseURL(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() { serverURL, serverErr = findServer() })
	if serverErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unavailable under CI=true: %v; .ci/run starts it with interop/peers.sh start", serverErr)
		}
		t.Skipf("PostgreSQL not running: %v. Start it (Debian/Ubuntu, as root; installs packages) with:\n"+
			"\tinterop/peers.sh start\n"+
			"then run: (cd outbox/postgres && go test -count=1 ./...)   (or set %s to a server of your own)", serverErr, urlEnv)
	}
	return serverURL
}

func findServer() (string, error) {
	url := os.Getenv(urlEnv)
	if url == "" {
		file := os.Getenv(peersEnvFileEnv)
		if file == "" {
			file = defaultPeersEnv
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("no %s, and the peers' env file: %w", urlEnv, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), peersURLKey+"="); ok {
				url = v
			}
		}
		if url == "" {
			return "", fmt.Errorf("%s has no %s (re-run interop/peers.sh start)", file, peersURLKey)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", fmt.Errorf("connecting to %s: %w", redact(url), err)
	}
	conn.Close(ctx)
	return url, nil
}

// redact hides the password of a URL.
func redact(url string) string {
	if cfg, err := pgx.ParseConfig(url); err == nil && cfg.Password != "" {
		return strings.Replace(url, ":"+cfg.Password+"@", ":xxxxx@", 1)
	}
	return url
}

// testContext returns a context that ends the test's calls if they hang.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// database is a schema of a test's own on the test server, with the
// outbox's tables in it.
type database struct {
	url    string // the server's URL with the schema as search_path
	schema string
	db     *pgxpool.Pool
}

// newDatabase makes a schema for the test, migrated, and drops it when the
// test ends.
func newDatabase(t testing.TB) *database {
	t.Helper()
	base := baseURL(t)
	ctx := testContext(t)
	var r [6]byte
	rand.Read(r[:])
	schema := "outbox_test_" + hex.EncodeToString(r[:])
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	d := &database{url: base + sep + "search_path=" + schema, schema: schema}
	d.db = d.pool(t)
	if v, err := postgres.Migrate(ctx, d.db); err != nil || v != 1 {
		t.Fatalf("Migrate: version %d, %v", v, err)
	}
	return d
}

// pool opens connections to d that the test closes.
func (d *database) pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	db, err := pgxpool.New(testContext(t), d.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// store returns a Store on d that the test closes.
func (d *database) store(t testing.TB, opts *postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.New(testContext(t), d.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// delivery is one message a test server took.
type delivery struct {
	From    string
	To      []string
	Data    []byte
	Size    int64
	Helo    string
	Conn    int       // the connection it came on, numbered from 1
	At      time.Time // when the server accepted it
	Dropped bool      // the connection was closed instead of the reply
}

// server is an SMTP server on loopback (go-smtp) that records what it
// accepts and when its connections open and end, and lets a test decide
// each reply.
type server struct {
	Addr string

	// rcpt, when set, answers each RCPT: nil accepts.
	rcpt func(to string) error
	// data, when set, answers the end of the data: nil accepts. It may block.
	data func(d *delivery) error
	// drop, when set and true for an accepted message, closes the
	// connection instead of answering (RFC 1047).
	drop func(d *delivery) bool
	// reading, when set, is called as the data comes in.
	reading func(d *delivery, read int64)
	// discard keeps no message content.
	discard bool

	srv *smtp.Server
	ln  *spanListener

	mu      sync.Mutex
	got     []delivery
	conns   int          // sessions so far
	dropped map[int]bool // the connections the server closed instead of replying
}

// newServer starts a server that the test closes.
func newServer(t testing.TB, configure func(*server)) *server {
	t.Helper()
	s := &server{}
	if configure != nil {
		configure(s)
	}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.test"
	s.srv.MaxMessageBytes = 1 << 30
	s.srv.MaxRecipients = 100
	s.srv.EnableBINARYMIME = true
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = &spanListener{Listener: l}
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.srv.Serve(s.ln)
	}()
	t.Cleanup(func() {
		s.ln.Close()
		<-done
		s.ln.closeAll()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.srv.Shutdown(ctx)
	})
	return s
}

// deliveries returns a copy of what was accepted so far.
func (s *server) deliveries() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery(nil), s.got...)
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// droppedConn reports whether the server closed the connection conn
// instead of replying: the replies to every message it had taken on it and
// not answered yet, or whose answer the client had not read, were lost.
func (s *server) droppedConn(conn int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped[conn]
}

func (s *server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns++
	return &session{srv: s, conn: c, id: s.conns}, nil
}

type session struct {
	srv  *server
	conn *smtp.Conn
	id   int
	from string
	to   []string
	size int64
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.from, ss.to, ss.size = from, nil, 0
	if opts != nil {
		ss.size = opts.Size
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.srv.rcpt != nil {
		if err := ss.srv.rcpt(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	d := &delivery{From: ss.from, To: ss.to, Helo: ss.conn.Hostname(), Conn: ss.id}
	var buf bytes.Buffer
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		if !ss.srv.discard {
			buf.Write(chunk[:n])
		}
		d.Size += int64(n)
		if n > 0 && ss.srv.reading != nil {
			ss.srv.reading(d, d.Size)
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
	// declares the size of the test messages (CRLF already).
	if ss.size > 0 && d.Size != ss.size {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 0}, Message: fmt.Sprintf("got %d bytes of %d", d.Size, ss.size)}
	}
	d.Data = buf.Bytes()
	if ss.srv.data != nil {
		if err := ss.srv.data(d); err != nil {
			return err
		}
	}
	d.At = time.Now()
	if ss.srv.drop != nil && ss.srv.drop(d) {
		d.Dropped = true
		ss.srv.mu.Lock()
		if ss.srv.dropped == nil {
			ss.srv.dropped = map[int]bool{}
		}
		ss.srv.dropped[ss.id] = true
		ss.srv.mu.Unlock()
		ss.conn.Conn().Close()
	}
	ss.srv.mu.Lock()
	ss.srv.got = append(ss.srv.got, *d)
	ss.srv.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// smtpError is an SMTP reply for the server to give.
func smtpError(code int, enhanced [3]int, text string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(enhanced), Message: text}
}

// span is when a connection to the server was open: from its accept to
// the QUIT the server read (which comes before the client can close and
// give its slot back), or to its end when there was none.
type span struct{ open, end time.Time }

// spanListener records the spans of its connections.
type spanListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*spanConn
}

func (l *spanListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &spanConn{Conn: c, open: time.Now()}
	l.mu.Lock()
	l.conns = append(l.conns, sc)
	l.mu.Unlock()
	return sc, nil
}

func (l *spanListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Conn.Close()
	}
}

// spans returns the spans of the connections so far; those still open end
// at now.
func (l *spanListener) spans() []span {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	out := make([]span, len(l.conns))
	for i, c := range l.conns {
		c.mu.Lock()
		out[i] = span{c.open, c.end}
		c.mu.Unlock()
		if out[i].end.IsZero() {
			out[i].end = now
		}
	}
	return out
}

type spanConn struct {
	net.Conn
	open time.Time
	mu   sync.Mutex
	end  time.Time
}

func (c *spanConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil || bytes.HasPrefix(p[:n], []byte("QUIT\r\n")) || bytes.Contains(p[:n], []byte("\nQUIT\r\n")) {
		c.ended()
	}
	return n, err
}

func (c *spanConn) Close() error {
	c.ended()
	return c.Conn.Close()
}

func (c *spanConn) ended() {
	c.mu.Lock()
	if c.end.IsZero() {
		c.end = time.Now()
	}
	c.mu.Unlock()
}

// peakConns returns the most connections open at once among spans.
func peakConns(spans []span) int {
	type edge struct {
		at   time.Time
		step int
	}
	var edges []edge
	for _, s := range spans {
		edges = append(edges, edge{s.open, 1}, edge{s.end, -1})
	}
	// Ends before opens at the same instant.
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.step, b.step)) })
	peak, n := 0, 0
	for _, e := range edges {
		n += e.step
		peak = max(peak, n)
	}
	return peak
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
func newPool(t testing.TB, addr string, opts smtpkit.Options) *smtpkit.Pool {
	t.Helper()
	p := &smtpkit.Pool{Addr: addr, Dialer: &smtpkit.Dialer{Options: opts}, MaxConns: 2}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return p
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

// envelope is the envelope of test message n.
func envelope(n int) *smtpkit.Envelope {
	return &smtpkit.Envelope{From: fmt.Sprintf("sender%d@x.test", n), To: []string{fmt.Sprintf("rcpt%d@y.test", n)}}
}

// enqueue enqueues message n and fails the test on error.
func enqueue(t testing.TB, s outbox.Store, n, size int) string {
	t.Helper()
	id, err := s.Enqueue(testContext(t), envelope(n), bytes.NewReader(message(n, size)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitFor polls cond until it holds or the test's patience ends.
func waitFor(t testing.TB, what string, patience time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %v for %s", patience, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listAll lists the store and fails the test on error.
func listAll(t testing.TB, s outbox.Store) []outbox.Entry {
	t.Helper()
	es, err := s.List(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	return es
}
