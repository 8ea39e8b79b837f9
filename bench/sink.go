package main

import (
	"io"
	"log"
	"net"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is an SMTP server that accepts every message and throws its data
// away, counting messages and bytes. It is github.com/emersion/go-smtp's
// server with its default extensions: PIPELINING, 8BITMIME,
// ENHANCEDSTATUSCODES, CHUNKING and SIZE.
type sink struct {
	Addr     string
	srv      *smtp.Server
	messages atomic.Int64
	bytes    atomic.Int64
	done     chan struct{}
}

// startSink starts a sink on a free port of 127.0.0.1.
func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
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
