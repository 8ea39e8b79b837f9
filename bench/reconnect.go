package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"strconv"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/smtpkit/smtpkit"
	"github.com/wneessen/go-mail"
)

// reconnectWarmup connections are made before the clock starts: the first
// one fills the session cache of the clients that keep one.
const reconnectWarmup = 3

// reconnectClient is one row of the reconnect table. Each reconnect is a
// new TCP connection, the implicit TLS handshake, the greeting, EHLO and
// QUIT.
type reconnectClient struct {
	key   string // the name -reconnect-clients takes
	label string
	// setup prepares the client for connecting to addr through d,
	// trusting what cfg trusts; it returns one reconnect.
	setup func(d *countingDialer, addr string, cfg *tls.Config) (reconnector, error)
}

// reconnector makes one connection, says EHLO and QUIT, and returns the
// state of its TLS handshake.
type reconnector func(ctx context.Context) (tls.ConnectionState, error)

var reconnectClients = []reconnectClient{
	{key: "smtpkit", label: "smtpkit Dial+Quit, session resumption on (the default)", setup: setupSmtpkitReconnect(0, false)},
	{key: "smtpkit-noresume", label: "smtpkit Dial+Quit, TLS.NoSessionResumption", setup: setupSmtpkitReconnect(0, true)},
	{key: "smtpkit-tls12", label: "smtpkit Dial+Quit, TLS 1.2, session resumption on", setup: setupSmtpkitReconnect(tls.VersionTLS12, false)},
	{key: "smtpkit-tls12-noresume", label: "smtpkit Dial+Quit, TLS 1.2, TLS.NoSessionResumption", setup: setupSmtpkitReconnect(tls.VersionTLS12, true)},
	{key: "netsmtp", label: "net/smtp, tls.Dial + NewClient", setup: setupNetSMTPReconnect(false)},
	{key: "netsmtp-cache", label: "net/smtp, tls.Dial + NewClient, tls.Config.ClientSessionCache set", setup: setupNetSMTPReconnect(true)},
	{key: "gosmtp", label: "emersion/go-smtp, DialTLS", setup: setupGoSMTPReconnect},
	{key: "gomail", label: "wneessen/go-mail, WithSSL", setup: setupGoMailReconnect},
}

const reconnectBaselineKey = "netsmtp"

// smtpkit: one Dialer for the row (the session cache is the Dialer's);
// Dial (connect, TLS, greeting, EHLO), then Quit. The handshake's state
// comes from the TLSDone event.
func setupSmtpkitReconnect(version uint16, noResume bool) func(*countingDialer, string, *tls.Config) (reconnector, error) {
	return func(d *countingDialer, addr string, cfg *tls.Config) (reconnector, error) {
		var (
			mu    sync.Mutex
			state tls.ConnectionState
			hsErr error
		)
		opts := smtpkit.Options{
			Security:  smtpkit.SecurityImplicitTLS,
			TLSConfig: cfg,
			LocalName: "localhost",
			Dialer:    d,
			Trace: func(e smtpkit.Event) {
				if td, ok := e.(smtpkit.TLSDone); ok {
					mu.Lock()
					state, hsErr = td.State, td.Err
					mu.Unlock()
				}
			},
		}
		opts.TLS.NoSessionResumption = noResume
		if version != 0 {
			opts.TLS.Versions = []uint16{version}
		}
		dialer := &smtpkit.Dialer{Options: opts}
		return func(ctx context.Context) (tls.ConnectionState, error) {
			c, err := dialer.Dial(ctx, addr)
			if err != nil {
				return tls.ConnectionState{}, err
			}
			if err := c.Quit(ctx); err != nil {
				return tls.ConnectionState{}, err
			}
			mu.Lock()
			defer mu.Unlock()
			if !state.HandshakeComplete {
				return state, fmt.Errorf("no TLSDone event with a completed handshake (error %v)", hsErr)
			}
			return state, nil
		}, nil
	}
}

// net/smtp: what tls.Dial does (connect, then the handshake) over the
// counted connection; NewClient reads the greeting, Hello says EHLO, Quit
// says QUIT. With cache, the row's tls.Config has a ClientSessionCache,
// which net/smtp users can set themselves.
func setupNetSMTPReconnect(cache bool) func(*countingDialer, string, *tls.Config) (reconnector, error) {
	return func(d *countingDialer, addr string, cfg *tls.Config) (reconnector, error) {
		if cache {
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
		}
		return func(ctx context.Context) (tls.ConnectionState, error) {
			tc, err := d.dialTLS(ctx, addr, cfg)
			if err != nil {
				return tls.ConnectionState{}, err
			}
			c, err := smtp.NewClient(tc, cfg.ServerName)
			if err != nil {
				tc.Close()
				return tls.ConnectionState{}, err
			}
			if err := c.Hello("localhost"); err != nil {
				c.Close()
				return tls.ConnectionState{}, err
			}
			return tc.ConnectionState(), c.Quit()
		}, nil
	}
}

// emersion/go-smtp: what DialTLS does (tls.Dialer, then NewClient) over
// the counted connection; Hello reads the greeting and says EHLO, Quit
// says QUIT.
func setupGoSMTPReconnect(d *countingDialer, addr string, cfg *tls.Config) (reconnector, error) {
	return func(ctx context.Context) (tls.ConnectionState, error) {
		tc, err := d.dialTLS(ctx, addr, cfg)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		c := gosmtp.NewClient(tc)
		if err := c.Hello("localhost"); err != nil {
			c.Close()
			return tls.ConnectionState{}, err
		}
		return tc.ConnectionState(), c.Quit()
	}, nil
}

// wneessen/go-mail: one Client with WithSSL for the row; DialWithContext
// (connect, TLS, greeting, EHLO), then Close (QUIT). go-mail makes the
// TLS connection with tls.Dialer unless given a DialContextFunc; this one
// does the same over the counted connection.
func setupGoMailReconnect(d *countingDialer, addr string, cfg *tls.Config) (reconnector, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	var last *tls.Conn
	c, err := mail.NewClient(host,
		mail.WithPort(port),
		mail.WithSSL(),
		mail.WithTLSConfig(cfg),
		mail.WithHELO("localhost"),
		mail.WithTimeout(time.Minute),
		mail.WithDialContextFunc(func(ctx context.Context, _, address string) (net.Conn, error) {
			tc, err := d.dialTLS(ctx, address, cfg)
			last = tc
			return tc, err
		}),
	)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (tls.ConnectionState, error) {
		last = nil
		if err := c.DialWithContext(ctx); err != nil {
			return tls.ConnectionState{}, err
		}
		if last == nil {
			c.Close()
			return tls.ConnectionState{}, fmt.Errorf("go-mail did not dial through the bench's dialer")
		}
		return last.ConnectionState(), c.Close()
	}, nil
}

// reconnectRow is the measurement of one reconnect client.
type reconnectRow struct {
	client   reconnectClient
	n        int
	elapsed  time.Duration
	cpu      time.Duration // this process's CPU time
	sinkCPU  time.Duration // the sink's; negative when not measured
	resumed  int           // connections whose handshake resumed a session
	versions map[uint16]int
	io       ioStats
}

func (r reconnectRow) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

func perConn(d time.Duration, n int) string {
	return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(n))
}

// runReconnect makes the warm-up connections, then measures n
// reconnects of rc to addr one after another: wall time, this process's
// CPU time, the sink's CPU time when sinkCPU is given, the write and read
// calls, and how many handshakes resumed a session.
func runReconnect(ctx context.Context, rc reconnectClient, addr string, cert *sinkCert, n int, sinkCPU func() (time.Duration, error)) (reconnectRow, error) {
	d := &countingDialer{}
	once, err := rc.setup(d, addr, cert.clientConfig())
	if err != nil {
		return reconnectRow{}, err
	}
	for i := range reconnectWarmup {
		if _, err := once(ctx); err != nil {
			return reconnectRow{}, fmt.Errorf("warm-up connection %d: %w", i+1, err)
		}
	}
	row := reconnectRow{client: rc, n: n, sinkCPU: -1, versions: map[uint16]int{}}
	var sink0 time.Duration
	if sinkCPU != nil {
		if sink0, err = sinkCPU(); err != nil {
			return reconnectRow{}, err
		}
	}
	cpu0, err := processCPU()
	if err != nil {
		return reconnectRow{}, err
	}
	io0 := d.Stats()
	t0 := time.Now()
	for i := range n {
		st, err := once(ctx)
		if err != nil {
			return reconnectRow{}, fmt.Errorf("connection %d: %w", i+1, err)
		}
		if st.DidResume {
			row.resumed++
		}
		row.versions[st.Version]++
	}
	row.elapsed = time.Since(t0)
	row.io = d.Stats().sub(io0)
	cpu1, err := processCPU()
	if err != nil {
		return reconnectRow{}, err
	}
	row.cpu = cpu1 - cpu0
	if sinkCPU != nil {
		sink1, err := sinkCPU()
		if err != nil {
			return reconnectRow{}, err
		}
		row.sinkCPU = sink1 - sink0
	}
	return row, nil
}

// versionNames lists the TLS versions the row's handshakes settled on.
func (r reconnectRow) versionNames() string {
	s := ""
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12, tls.VersionTLS11, tls.VersionTLS10} {
		if r.versions[v] == 0 {
			continue
		}
		if s != "" {
			s += ", "
		}
		s += tls.VersionName(v)
		if r.versions[v] != r.n {
			s += fmt.Sprintf(" (%d)", r.versions[v])
		}
	}
	return s
}

// printReconnectTable prints the reconnect rows as a Markdown table; the
// ratio is to net/smtp's connections per second.
func printReconnectTable(w io.Writer, rows []reconnectRow) {
	var base float64
	for _, r := range rows {
		if r.client.key == reconnectBaselineKey {
			base = r.rate()
		}
	}
	fmt.Fprintln(w, "| client | TLS | connections | connections/s | client CPU/connection | sink CPU/connection | resumed | writes/connection | reads/connection | connections/s vs net/smtp |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		sink := "–"
		if r.sinkCPU >= 0 {
			sink = perConn(r.sinkCPU, r.n)
		}
		ratio := "–"
		if base > 0 {
			ratio = fmt.Sprintf("%.2f×", r.rate()/base)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %s | %s | %d/%d | %.2f | %.2f | %s |\n",
			r.client.label, r.versionNames(), r.n, r.rate(), perConn(r.cpu, r.n), sink,
			r.resumed, r.n, float64(r.io.Writes)/float64(r.n), float64(r.io.Reads)/float64(r.n), ratio)
	}
}
