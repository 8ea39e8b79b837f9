package smtpkit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// ehloReply answers EHLO with the given extensions.
func ehloReply(ext ...string) []string {
	lines := []string{"250-raw.test greets you"}
	for _, e := range ext {
		lines = append(lines, "250-"+e)
	}
	lines[len(lines)-1] = "250 " + strings.TrimPrefix(lines[len(lines)-1], "250-")
	return lines
}

// greetAndEHLO sends the greeting and answers EHLO; false when the client went away.
func greetAndEHLO(c *smtptest.RawConn, ext ...string) bool {
	if c.Send("220 raw.test ESMTP") != nil {
		return false
	}
	if _, err := c.Expect("EHLO"); err != nil {
		return false
	}
	return c.Send(ehloReply(ext...)...) == nil
}

// verbs returns the command verbs in lines, leaving out the TLS records
// (0x16, handshake) of Auto's parallel implicit-TLS attempt.
func verbs(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "\x16") {
			continue
		}
		v, _, _ := strings.Cut(l, " ")
		out = append(out, strings.ToUpper(v))
	}
	return out
}

func phaseOf(t *testing.T, err error) smtpkit.Phase {
	t.Helper()
	var e *smtpkit.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not a *smtpkit.Error", err, err)
	}
	return e.Phase
}

func TestStartTLSRequiredNeverContinuesInPlaintext(t *testing.T) {
	tests := []struct {
		name    string
		ext     []string
		reply   string // the reply to STARTTLS, when offered
		wantErr error
	}{
		{"not offered", []string{"AUTH PLAIN", "PIPELINING"}, "", smtpkit.ErrTLSNotOffered},
		{"refused 454", []string{"STARTTLS", "AUTH PLAIN"}, "454 4.7.0 TLS not available", smtpkit.ErrTLSRefused},
		{"refused 502", []string{"STARTTLS"}, "502 5.5.1 not implemented", smtpkit.ErrTLSRefused},
		{"answered 354", []string{"STARTTLS"}, "354 go ahead", smtpkit.ErrTLSRefused},
	}
	for _, tt := range tests {
		for _, mode := range []smtpkit.Security{smtpkit.SecurityStartTLS, smtpkit.SecurityTLSAuto} {
			t.Run(tt.name+"/"+mode.String(), func(t *testing.T) {
				srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
					if !greetAndEHLO(c, tt.ext...) {
						return
					}
					if tt.reply != "" {
						if _, err := c.Expect("STARTTLS"); err == nil {
							c.Send(tt.reply)
						}
					}
					c.WaitClose()
				})
				defer srv.Close()
				c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: mode})
				if c != nil {
					c.Close()
					t.Fatalf("Dial succeeded in %s", c.Security())
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if p := phaseOf(t, err); p != smtpkit.PhaseSTARTTLS {
					t.Errorf("phase %s, want starttls", p)
				}
				want := []string{"EHLO"}
				if tt.reply != "" {
					want = append(want, "STARTTLS")
				}
				srv.Close() // wait for the handler, then read what it got
				if got := verbs(srv.Received()); !slices.Equal(got, want) {
					t.Errorf("server received %q, want only %q", got, want)
				}
			})
		}
	}
}

func TestStartTLSResponseInjection(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "STARTTLS") {
			return
		}
		if _, err := c.Expect("STARTTLS"); err != nil {
			return
		}
		// The injected reply arrives in the same packet as the 220.
		c.Send("220 2.0.0 go ahead", "250-injected", "250 AUTH PLAIN")
		c.WaitClose()
	})
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityStartTLS})
	if c != nil {
		c.Close()
		t.Fatal("Dial succeeded although replies were injected before the TLS handshake")
	}
	if !errors.Is(err, smtpkit.ErrProtocol) || phaseOf(t, err) != smtpkit.PhaseSTARTTLS {
		t.Errorf("err = %v, want ErrProtocol in phase starttls", err)
	}
	srv.Close()
	if got := verbs(srv.Received()); !slices.Equal(got, []string{"EHLO", "STARTTLS"}) {
		t.Errorf("server received %q", got)
	}
}

func TestCapabilitiesAfterSTARTTLSAreThePostTLSOnes(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "STARTTLS", "AUTH PLAIN LOGIN X-BEFORE", "X-BEFORE") {
			return
		}
		if _, err := c.Expect("STARTTLS"); err != nil {
			return
		}
		c.Send("220 2.0.0 go ahead")
		if c.StartTLS() != nil {
			return
		}
		if _, err := c.Expect("EHLO"); err != nil {
			return
		}
		c.Send(ehloReply("AUTH SCRAM-SHA-256", "X-AFTER", "SIZE 1000")...)
		if _, err := c.Expect("QUIT"); err == nil {
			c.Send("221 bye")
		}
	})
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{
		Security: smtpkit.SecurityStartTLS, TLSConfig: smtptest.ClientTLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	caps := c.Capabilities()
	if caps.Has("X-BEFORE") || caps.StartTLS() || !caps.Has("X-AFTER") {
		t.Errorf("capabilities after TLS: %q; want the post-TLS set only", caps.Lines())
	}
	if m := caps.AuthMechanisms(); !slices.Equal(m, []string{"SCRAM-SHA-256"}) {
		t.Errorf("AUTH after TLS: %q, want [SCRAM-SHA-256]", m)
	}
	if err := c.Quit(testContext(t)); err != nil {
		t.Error(err)
	}
}

func TestHELOFallback(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		c.Send("220 old.test SMTP")
		if _, err := c.Expect("EHLO"); err != nil {
			return
		}
		c.Send("502 5.5.2 what?")
		if _, err := c.Expect("HELO"); err != nil {
			return
		}
		c.Send("250 old.test")
		c.WaitClose()
	})
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityStartTLSIfOffered})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Capabilities().ESMTP() || c.Security() != smtpkit.SecurityNone {
		t.Errorf("ESMTP %v, security %s; want HELO session in plaintext", c.Capabilities().ESMTP(), c.Security())
	}
}

func TestGreetingTimeoutOnSilentServer(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) { c.WaitClose() })
	defer srv.Close()
	for _, mode := range []smtpkit.Security{smtpkit.SecurityNone, smtpkit.SecurityStartTLS} {
		_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: mode, GreetingTimeout: 100 * time.Millisecond})
		if !errors.Is(err, smtpkit.ErrGreetingTimeout) || phaseOf(t, err) != smtpkit.PhaseGreeting {
			t.Errorf("%s: err = %v, want ErrGreetingTimeout in phase greeting", mode, err)
		}
	}
}

func TestAutoOnSilentServerFailsByGreetingTimeout(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) { c.WaitClose() })
	defer srv.Close()
	_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityAuto, GreetingTimeout: 200 * time.Millisecond})
	if !errors.Is(err, smtpkit.ErrGreetingTimeout) {
		t.Errorf("err = %v, want ErrGreetingTimeout", err)
	}
	if n := srv.Connections(); n != 2 {
		t.Errorf("%d connections; want 2 (plaintext wait and implicit TLS attempt)", n)
	}
}

func TestConnectTimeout(t *testing.T) {
	bh, err := smtptest.NewBlackhole()
	if err != nil {
		t.Skipf("no blackhole address on this system: %v", err)
	}
	defer bh.Close()
	_, err = smtpkit.Dial(testContext(t), bh.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, ConnectTimeout: 150 * time.Millisecond})
	if !errors.Is(err, smtpkit.ErrConnectTimeout) || phaseOf(t, err) != smtpkit.PhaseConnect {
		t.Errorf("err = %v, want ErrConnectTimeout in phase connect", err)
	}
}

func TestOperationTimeout(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) { c.WaitClose() })
	defer srv.Close()
	_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, Timeout: 100 * time.Millisecond})
	if !errors.Is(err, smtpkit.ErrOperationTimeout) {
		t.Errorf("err = %v, want ErrOperationTimeout", err)
	}
}

// hangAfterEHLO greets, answers EHLO and then reads without ever replying.
func hangAfterEHLO(c *smtptest.RawConn) {
	if greetAndEHLO(c) {
		c.WaitClose()
	}
}

func TestContextCancelUnblocksHungCommand(t *testing.T) {
	srv := smtptest.NewRawServer(hangAfterEHLO)
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(testContext(t))
	time.AfterFunc(50*time.Millisecond, cancel)
	err = c.Noop(ctx) // CommandTimeout is 5 minutes: only the cancel can end this
	if !errors.Is(err, context.Canceled) || phaseOf(t, err) != smtpkit.PhaseNoop {
		t.Fatalf("Noop = %v, want context.Canceled in phase noop", err)
	}
	if err := c.Noop(testContext(t)); err == nil {
		t.Error("Noop after an interrupted command succeeded on a connection in an unknown state")
	}
}

func TestContextDeadlineUnblocksGreetingWait(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) { c.WaitClose() })
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := smtpkit.Dial(ctx, srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, GreetingTimeout: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestCommandTimeout(t *testing.T) {
	srv := smtptest.NewRawServer(hangAfterEHLO)
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, CommandTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(testContext(t)); !errors.Is(err, smtpkit.ErrCommandTimeout) {
		t.Errorf("Noop = %v, want ErrCommandTimeout", err)
	}
}

func TestBadArgumentsSendNothing(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) { c.Send("220 hi"); c.WaitClose() })
	defer srv.Close()
	for _, name := range []string{"evil\r\nMAIL FROM:<x>", "a\nb", "nul\x00", "two words"} {
		_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, LocalName: name})
		if !errors.Is(err, smtpkit.ErrInvalidArgument) {
			t.Errorf("LocalName %q: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := smtpkit.Dial(testContext(t), srv.Addr+"\r\n", nil); !errors.Is(err, smtpkit.ErrInvalidArgument) {
		t.Errorf("address with CRLF: err = %v, want ErrInvalidArgument", err)
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("%d connections made with invalid arguments, want 0", n)
	}
}

func TestHostileReplies(t *testing.T) {
	tests := []struct {
		name    string
		script  func(c *smtptest.RawConn)
		phase   smtpkit.Phase
		wantErr error
	}{
		{"megabyte greeting line", func(c *smtptest.RawConn) {
			c.SendRaw([]byte("220 " + strings.Repeat("x", 1<<20) + "\r\n"))
			c.WaitClose()
		}, smtpkit.PhaseGreeting, smtpkit.ErrProtocol},
		{"endless EHLO reply", func(c *smtptest.RawConn) {
			c.Send("220 hi")
			c.Expect("EHLO")
			for i := 0; i < 1000 && c.Send("250-more") == nil; i++ {
			}
			c.WaitClose()
		}, smtpkit.PhaseEHLO, smtpkit.ErrProtocol},
		{"codes disagree", func(c *smtptest.RawConn) {
			c.Send("220-hi", "554 no")
			c.WaitClose()
		}, smtpkit.PhaseGreeting, smtpkit.ErrProtocol},
		{"not SMTP", func(c *smtptest.RawConn) {
			c.Send("SSH-2.0-OpenSSH_9.2")
			c.WaitClose()
		}, smtpkit.PhaseGreeting, smtpkit.ErrProtocol},
		{"refusal greeting", func(c *smtptest.RawConn) {
			c.Send("554 5.7.1 go away")
			c.WaitClose()
		}, smtpkit.PhaseGreeting, nil},
		{"closed after greeting", func(c *smtptest.RawConn) {
			c.Send("220 hi")
		}, smtpkit.PhaseEHLO, smtpkit.ErrClosed},
		{"closed mid-reply", func(c *smtptest.RawConn) {
			c.Send("220 hi")
			c.Expect("EHLO")
			c.SendRaw([]byte("250-hi\r\n250-PIPEL"))
		}, smtpkit.PhaseEHLO, nil},
		{"421 to EHLO", func(c *smtptest.RawConn) {
			c.Send("220 hi")
			c.Expect("EHLO")
			c.Send("421 4.3.2 shutting down")
		}, smtpkit.PhaseEHLO, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.NewRawServer(tt.script)
			defer srv.Close()
			c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone})
			if c != nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if p := phaseOf(t, err); p != tt.phase {
				t.Errorf("phase %s, want %s (%v)", p, tt.phase, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEHLOGetsLocalName(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) { greetAndEHLO(c); c.WaitClose() })
	defer srv.Close()
	for name, want := range map[string]string{"": "EHLO [127.0.0.1]", "client.example.org": "EHLO client.example.org"} {
		c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, LocalName: name})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := srv.Received(); got[len(got)-1] != want {
			t.Errorf("LocalName %q: sent %q, want %q", name, got[len(got)-1], want)
		}
	}
}

func TestDripFedGreetingHitsTheGreetingTimeout(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		for _, b := range []byte("220 slowly but surely\r\n") {
			if c.SendRaw([]byte{b}) != nil {
				return
			}
			time.Sleep(30 * time.Millisecond)
		}
		c.WaitClose()
	})
	defer srv.Close()
	_, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityNone, GreetingTimeout: 150 * time.Millisecond})
	if !errors.Is(err, smtpkit.ErrGreetingTimeout) {
		t.Errorf("err = %v, want ErrGreetingTimeout: the limit covers the whole greeting, not each byte", err)
	}
}

func TestStartTLSIfOfferedNeverFallsBackAfterARefusal(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "STARTTLS") {
			return
		}
		if _, err := c.Expect("STARTTLS"); err == nil {
			c.Send("454 4.7.0 TLS not available due to temporary reason")
		}
		c.WaitClose()
	})
	defer srv.Close()
	c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: smtpkit.SecurityStartTLSIfOffered})
	if c != nil {
		c.Close()
		t.Fatal("went on in plaintext after the server offered STARTTLS and then refused it")
	}
	var e *smtpkit.Error
	if !errors.Is(err, smtpkit.ErrTLSRefused) || !errors.As(err, &e) || e.Code != 454 || !e.Temporary() {
		t.Errorf("err = %v, want ErrTLSRefused carrying the temporary 454", err)
	}
}

func TestTLSFailureAfterSTARTTLS(t *testing.T) {
	srv := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		if !greetAndEHLO(c, "STARTTLS") {
			return
		}
		if _, err := c.Expect("STARTTLS"); err == nil {
			c.Send("220 go ahead")
			c.StartTLS() // the client does not trust this certificate
		}
	})
	defer srv.Close()
	for _, mode := range []smtpkit.Security{smtpkit.SecurityStartTLSIfOffered, smtpkit.SecurityAuto} {
		c, err := smtpkit.Dial(testContext(t), srv.Addr, &smtpkit.Options{Security: mode})
		if c != nil {
			c.Close()
			t.Fatalf("%s: Dial succeeded with an untrusted certificate", mode)
		}
		if phaseOf(t, err) != smtpkit.PhaseTLS {
			t.Errorf("%s: err = %v, want phase tls", mode, err)
		}
	}
	srv.Close()
	for _, l := range verbs(srv.Received()) {
		if l != "EHLO" && l != "STARTTLS" {
			t.Errorf("after a failed handshake the client sent %q", l)
		}
	}
}
