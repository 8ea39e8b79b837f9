package main

import (
	"fmt"
	"io"

	"github.com/smtpkit/smtpkit/smtptest"
)

// The embedded demo server's login and the address it refuses, so that
// logging in, a failed login and a refusal can all be tried offline.
const (
	demoUser     = "demo"
	demoPassword = "demo-password"
	demoRefused  = "nobody@example.org"
)

// startDemo starts the embedded demo server of --demo: STARTTLS with the
// smtptest certificate, a login (SCRAM-SHA-256, PLAIN or LOGIN, over TLS
// only), and one address it refuses. The caller closes it.
func startDemo() *smtptest.Server {
	srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
	srv.Users = map[string]string{demoUser: demoPassword}
	srv.AuthMechanisms = []string{"SCRAM-SHA-256", "PLAIN", "LOGIN"}
	srv.RefuseRecipients = []string{demoRefused}
	srv.Start()
	return srv
}

// useDemo points src at the demo server: no file nor environment is read,
// and the login is the demo's unless the command line gives another.
func useDemo(src *sources, srv *smtptest.Server) {
	src.server, src.noFiles = srv.Addr, true
	src.sets = append([]setting{{"demo", "user", demoUser}, {"demo", "password", demoPassword}}, src.sets...)
}

// printDemo says where the demo server listens and how to use it.
func printDemo(out io.Writer, srv *smtptest.Server) {
	fmt.Fprintf(out, "Demo: an embedded STARTTLS server listens on %s\n", srv.Addr)
	fmt.Fprintf(out, "      login %s, password %s; it refuses mail to %s\n\n", demoUser, demoPassword, demoRefused)
}
