package main

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is an SMTP server that accepts every message and throws its data
// away, counting messages and bytes. It is github.com/emersion/go-smtp's
// server with its default extensions: PIPELINING, 8BITMIME,
// ENHANCEDSTATUSCODES, CHUNKING and SIZE (less CHUNKING with
// sinkConfig.stripChunking).
type sink struct {
	Addr     string
	srv      *smtp.Server
	messages atomic.Int64
	bytes    atomic.Int64
	done     chan struct{}
}

// sinkConfig says how a sink differs from the plain one.
type sinkConfig struct {
	// stripChunking removes the CHUNKING line from the EHLO reply as the
	// server writes it, so that a client connected straight to the sink
	// sees PIPELINING without CHUNKING, as through a relay that strips it.
	stripChunking bool
	// tls, when set, makes the sink speak implicit TLS (as on port 465).
	tls *tls.Config
}

// startSink starts a sink on a free port of 127.0.0.1.
func startSink(cfg sinkConfig) (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if cfg.stripChunking {
		ln = strippingListener{ln}
	}
	if cfg.tls != nil {
		ln = tls.NewListener(ln, cfg.tls)
	}
	s := &sink{Addr: ln.Addr().String(), done: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{s: s}, nil
	}))
	srv.Domain = "sink.localhost"
	// A limit is set so that SIZE is advertised, and large enough for the
	// 1 GiB message.
	srv.MaxMessageBytes = 2 << 30
	srv.MaxRecipients = 100
	srv.ReadTimeout = 2 * time.Minute
	srv.WriteTimeout = 2 * time.Minute
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv = srv
	go func() {
		defer close(s.done)
		srv.Serve(ln)
	}()
	return s, nil
}

// Messages returns the number of messages received whole.
func (s *sink) Messages() int64 { return s.messages.Load() }

func (s *sink) address() string { return s.Addr }

func (s *sink) received() (int64, error) { return s.Messages(), nil }

// cpu is not known apart from this process's: the sink shares it.
func (s *sink) cpu() (time.Duration, bool, error) { return 0, false, nil }

// Bytes returns the number of message bytes received.
func (s *sink) Bytes() int64 { return s.bytes.Load() }

// Close stops the server and closes its connections.
func (s *sink) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

type sinkSession struct{ s *sink }

func (*sinkSession) Reset()                               {}
func (*sinkSession) Logout() error                        { return nil }
func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (ss *sinkSession) Data(r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	ss.s.bytes.Add(n)
	if err != nil {
		return err
	}
	ss.s.messages.Add(1)
	return nil
}

// strippingListener hands out connections whose writes pass through a
// chunkingFilter: the server's EHLO reply loses its CHUNKING line.
type strippingListener struct{ net.Listener }

func (l strippingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &strippingConn{Conn: c}, nil
}

type strippingConn struct {
	net.Conn
	mu sync.Mutex
	f  chunkingFilter
}

// Write writes the complete lines of p that the filter lets through and
// holds the rest (a partial line, the first lines of a multi-line reply)
// for the next write; it reports p written.
func (c *strippingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if out := c.f.process(p); len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
