package smtptest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Server is a well-behaved SMTP server on a random port of 127.0.0.1, backed
// by github.com/emersion/go-smtp.
//
// By default it accepts any sender and recipient and records every message
// delivered to it; see Messages.
type Server struct {
	// Addr is the "127.0.0.1:port" address the server listens on, set by
	// Start.
	Addr string

	// Security says whether and how the server uses TLS.
	Security Security

	// Config is the go-smtp server. It may be adjusted between
	// NewUnstartedServer and Start. Replacing Config.Backend replaces the
	// default in-memory backend; Messages, Users, Tokens and AuthMechanisms
	// then no longer apply. Config.ErrorLog discards everything unless
	// replaced.
	Config *smtp.Server

	// Users maps user names to passwords, for every mechanism but XOAUTH2,
	// OAUTHBEARER, EXTERNAL and ANONYMOUS. A wrong password gets a 535
	// reply.
	Users map[string]string

	// Tokens maps user names to valid OAuth 2.0 access tokens, for XOAUTH2
	// and OAUTHBEARER. A wrong token gets the error flow of RFC 7628: a 334
	// challenge holding
	// {"status":"401","schemes":"Bearer","scope":"smtptest"}, then 535
	// once the client has answered it.
	Tokens map[string]string

	// AuthMechanisms lists the SASL mechanisms the server offers, from
	// PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, SCRAM-SHA-1,
	// SCRAM-SHA-256, SCRAM-SHA-512, their -PLUS forms, EXTERNAL and
	// ANONYMOUS; Start panics on any other name. If it is nil, the server
	// offers PLAIN and LOGIN if Users is not empty, and XOAUTH2 and
	// OAUTHBEARER if Tokens is not empty.
	//
	// The -PLUS forms and EXTERNAL are offered only over TLS. -PLUS checks
	// the channel binding against the server's own TLS connection:
	// tls-exporter on TLS 1.3, tls-unique on TLS 1.2. EXTERNAL accepts any
	// TLS client certificate and authenticates the client as the
	// certificate's subject common name; Start makes Config.TLSConfig ask
	// for client certificates if it does not already.
	//
	// A server that offers any mechanism refuses MAIL FROM from clients that
	// have not authenticated. go-smtp allows AUTH only over TLS unless
	// Config.AllowInsecureAuth is set, so a Plain server with mechanisms also
	// needs that.
	AuthMechanisms []string

	// RefuseRecipients lists addresses the default backend refuses at RCPT
	// TO with "550 5.1.1", as a server refuses a mailbox it does not have,
	// for trying how a client reports a refusal. Case is ignored.
	RefuseRecipients []string

	refused    []string          // copy of RefuseRecipients made by Start
	users      map[string]string // copy of Users made by Start
	tokens     map[string]string // copy of Tokens made by Start
	mechanisms []string          // the mechanisms offered, set by Start

	listener  *trackingListener
	serveDone chan struct{} // closed when Config.Serve has returned

	mu       sync.Mutex
	started  bool
	closed   bool
	messages []Message
}

// NewServer starts and returns a new Server using the given security.
// The caller must call Close when finished.
func NewServer(sec Security) *Server {
	s := NewUnstartedServer(sec)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server that is not yet listening, so its
// Config and Users can be changed before calling Start.
func NewUnstartedServer(sec Security) *Server {
	s := &Server{Security: sec}

	cfg := smtp.NewServer(smtp.BackendFunc(s.newSession))
	cfg.Domain = "localhost"
	cfg.AllowInsecureAuth = false
	cfg.MaxMessageBytes = 10 << 20
	cfg.MaxRecipients = 100
	cfg.EnableSMTPUTF8 = true
	cfg.EnableBINARYMIME = true
	cfg.EnableDSN = true
	cfg.ReadTimeout = 30 * time.Second
	cfg.WriteTimeout = 30 * time.Second
	cfg.ErrorLog = log.New(io.Discard, "", 0)
	if sec == StartTLS || sec == ImplicitTLS {
		cfg.TLSConfig = ServerTLSConfig()
	}
	s.Config = cfg
	return s
}

// Start starts the server; it panics if the server was already started, if
// AuthMechanisms names a mechanism the server does not implement, or if it
// cannot listen.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("smtptest: Server.Start called twice")
	}
	if s.closed {
		panic("smtptest: Server.Start called after Close")
	}
	if s.Security == ImplicitTLS && s.Config.TLSConfig == nil {
		panic("smtptest: ImplicitTLS server has no Config.TLSConfig")
	}

	// prepareAuth may panic on a bad AuthMechanisms, so it runs before
	// anything is opened.
	s.prepareAuth()
	s.refused = slices.Clone(s.RefuseRecipients)

	tl, err := listenLoopback()
	if err != nil {
		panic(fmt.Sprintf("smtptest: failed to listen on 127.0.0.1: %v", err))
	}
	s.started = true
	s.listener = tl
	s.Addr = tl.Addr().String()

	// The TLS listener wraps the tracking listener, so that go-smtp sees a
	// *tls.Conn while the tracking listener can still close the TCP
	// connection underneath.
	var l net.Listener = tl
	if s.Security == ImplicitTLS {
		l = tls.NewListener(tl, s.Config.TLSConfig)
	}

	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		// Serve returns an error once Close closes the listener; there is
		// nobody to report it to, and it is expected.
		_ = s.Config.Serve(l)
	}()
}

// Close stops the server, closes all its connections and waits until every
// goroutine it started has returned. It is safe to call more than once, and
// on a server that was never started.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if !started {
		return
	}

	// Stop accepting first, and wait for the accept loop to end, so no new
	// connection can appear while the open ones are being closed.
	s.listener.Close()
	<-s.serveDone
	s.listener.closeConns()
	// Shutdown waits for go-smtp's connection goroutines, which end now that
	// their connections are closed. Its error only repeats that the listener
	// was already closed.
	_ = s.Config.Shutdown(context.Background())
}

// Messages returns a copy of the messages delivered so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = m.clone()
	}
	return out
}

// Connections returns the number of TCP connections accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	l := s.listener
	s.mu.Unlock()
	if l == nil {
		return 0
	}
	return l.count()
}

// record stores a delivered message.
func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m.clone())
}
