package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smtpkit/smtpkit"
	smtpmessage "github.com/smtpkit/smtpkit/message"
)

func TestTranscriptMarkers(t *testing.T) {
	var out strings.Builder
	tr := newTranscript(&out)
	c1 := smtpkit.Conn{ID: 1, Addr: "mx.test:587"}
	c2 := smtpkit.Conn{ID: 2, Addr: "mx.test:587"}
	reply := func(c smtpkit.Conn, tls bool, code int, lines ...string) smtpkit.ReplyRead {
		return smtpkit.ReplyRead{Conn: c, Reply: smtpkit.Reply{Code: code}, Lines: lines, TLS: tls}
	}
	up := smtpkit.TLSDone{Conn: c1, State: tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256}}
	for _, e := range []smtpkit.Event{
		reply(c1, false, 220, "220 mx.test ESMTP"),
		smtpkit.CommandSent{Conn: c1, Line: "EHLO [127.0.0.1]"},
		reply(c1, false, 250, "250-mx.test", "250 STARTTLS"),
		smtpkit.CommandSent{Conn: c1, Line: "STARTTLS"},
		reply(c1, false, 220, "220 go ahead"),
		up,
		// A second connection of a pool, in plaintext, between the lines of the first.
		reply(c2, false, 220, "220 plain.test"),
		smtpkit.CommandSent{Conn: c1, Line: "AUTH PLAIN <redacted>", Redacted: true, TLS: true},
		smtpkit.CommandSent{Conn: c2, Line: "EHLO x"},
		reply(c1, true, 535, "535 5.7.8 no"),
		reply(c2, false, 550, "550 no"),
		smtpkit.DataSent{Conn: c1, Bytes: 292, Chunk: true, Last: true, TLS: true},
		smtpkit.SecurityChosen{Conn: c2, Reason: smtpkit.ReasonStartTLSMissing},
	} {
		tr.event(e)
	}
	tr.error(errors.New("smtp ehlo: refused"))
	want := []string{
		"<-  220 mx.test ESMTP", " -> EHLO [127.0.0.1]", "<-  250-mx.test", "<-  250 STARTTLS", " -> STARTTLS",
		"<-  220 go ahead", "=== TLS up: TLS 1.3, TLS_AES_128_GCM_SHA256, server certificate (none)",
		"<-  220 plain.test", " ~> AUTH PLAIN <redacted>", " -> EHLO x", "<~* 535 5.7.8 no", "<** 550 no",
		" ~> <292 bytes of message data>", "=== STARTTLS not offered",
		"*** smtp ehlo: refused",
	}
	if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseSendmailArgs(t *testing.T) {
	tests := []struct {
		args []string
		want sendmailArgs
		err  string
	}{
		{[]string{"-t", "-i"}, sendmailArgs{readRecipients: true, ignoreDots: true}, ""},
		{[]string{"-ti", "-oi"}, sendmailArgs{readRecipients: true, ignoreDots: true}, ""},
		{[]string{"-oem", "-odi", "-v", "-bm", "a@example.org"}, sendmailArgs{verbose: true, recipients: []string{"a@example.org"}}, ""},
		{[]string{"-f", "me@example.com", "-F", "Me Myself", "b@example.org"},
			sendmailArgs{from: "me@example.com", fromSet: true, fullName: "Me Myself", recipients: []string{"b@example.org"}}, ""},
		{[]string{"-fme@example.com", "-FMe"}, sendmailArgs{from: "me@example.com", fromSet: true, fullName: "Me"}, ""},
		{[]string{"-r", "<>"}, sendmailArgs{from: "<>", fromSet: true}, ""},
		{[]string{"-C", "/etc/rc", "-a", "work", "--url=smtp://h"},
			sendmailArgs{config: "/etc/rc", configGiven: true, account: "work", accountGiven: true, url: "smtp://h"}, ""},
		{[]string{"--account", "work", "--config=/x.toml"}, sendmailArgs{account: "work", accountGiven: true, config: "/x.toml", configGiven: true}, ""},
		{[]string{"-N", "never", "-B", "8BITMIME", "-R", "hdrs", "-V", "id", "-X", "/log", "-L", "tag", "-h", "3", "-d0.1", "a"},
			sendmailArgs{recipients: []string{"a"}}, ""},
		{[]string{"-i", "--", "-odd@example.org", "-t"}, sendmailArgs{ignoreDots: true, recipients: []string{"-odd@example.org", "-t"}}, ""},
		{[]string{"-bs"}, sendmailArgs{}, "-bs is not supported"},
		{[]string{"-qI123"}, sendmailArgs{}, "does not select queued messages"},
		{[]string{"-q1x"}, sendmailArgs{}, "want an interval"},
		{[]string{"-f"}, sendmailArgs{}, "-f needs a value"},
		{[]string{"-Z"}, sendmailArgs{}, "unknown option -Z"},
		{[]string{"--frobnicate"}, sendmailArgs{}, "unknown option --frobnicate"},
	}
	for _, tt := range tests {
		got, err := parseSendmailArgs(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || exitCode(sysexitsError{err}) != exUsage {
				t.Errorf("%q: error %v, want %q (usage)", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if got.readRecipients != tt.want.readRecipients || got.ignoreDots != tt.want.ignoreDots || got.from != tt.want.from ||
			got.fromSet != tt.want.fromSet || got.fullName != tt.want.fullName || got.verbose != tt.want.verbose ||
			got.account != tt.want.account || got.accountGiven != tt.want.accountGiven || got.config != tt.want.config ||
			got.configGiven != tt.want.configGiven || got.url != tt.want.url || !slices.Equal(got.recipients, tt.want.recipients) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.args, *got, tt.want)
		}
	}
}

func TestInvokedAsSendmail(t *testing.T) {
	for name, want := range map[string]bool{"/usr/sbin/sendmail": true, "sendmail": true, `C:\bin\sendmail.exe`: true,
		"/usr/bin/smtpkit": false, "sendmail-helper": false} {
		if got := invokedAsSendmail(strings.ReplaceAll(name, `\`, "/")); got != want {
			t.Errorf("%s: %v", name, got)
		}
	}
}

// TestEnvelopeRule checks how the command line's sender and recipients
// combine with the header's (package message reads the header itself).
func TestEnvelopeRule(t *testing.T) {
	in := "From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\nTo: a@example.org,\r\n \"Last, First\" <b@example.org>\r\n" +
		"cc: team: c@example.org, d@example.org;\r\nBCC: e@example.org\r\nbcc: root\r\nSubject: hi\r\n\r\nbody\r\n"
	h, err := readHeader(bufio.NewReader(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope{}.of(h)
	if err != nil {
		t.Fatal(err)
	}
	if env.From != "zoe@example.com" || !slices.Equal(env.To, []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org", "root"}) {
		t.Errorf("envelope %+v", env)
	}

	// Explicit recipients win over the header's, unless they are added to it (-t).
	env, _ = envelope{from: "X <x@example.com>", to: []string{"z@example.org"}}.of(h)
	if env.From != "x@example.com" || !slices.Equal(env.To, []string{"z@example.org"}) {
		t.Errorf("envelope %+v", env)
	}
	env, _ = envelope{from: "<>", fromSet: true, to: []string{"z@example.org"}, fromHeader: true}.of(h)
	if env.From != "" || len(env.To) != 7 {
		t.Errorf("envelope %+v", env)
	}
	env, _ = envelope{from: "<>", to: []string{"z@example.org"}}.of(h)
	if env.From != "" {
		t.Errorf("a sender of <> from the account: %+v", env)
	}
	if _, err := (envelope{from: "x@example.com\r\nRCPT TO:<y@example.org>"}).of(h); exitCode(err) != exitUsage {
		t.Errorf("a sender with CRLF: %v", err)
	}
	if _, err := expandAddresses([]string{"a@example.org, Bob <b@example.org>", "root"}); err != nil {
		t.Error(err)
	}
	if _, err := expandAddresses([]string{"a@example.org\nb@example.org"}); exitCode(err) != exitUsage {
		t.Errorf("a recipient with LF: %v", err)
	}

	_, err = readHeader(bufio.NewReader(strings.NewReader("X: " + strings.Repeat("a", smtpmessage.MaxHeaderBytes))))
	if exitCode(err) != exitDataErr {
		t.Errorf("a huge header: %v", err)
	}
}

func TestDotReader(t *testing.T) {
	for in, want := range map[string]string{
		"a\n.\nb\n":                          "a\n",
		"a\r\n.\r\nb\r\n":                    "a\r\n",
		"a\n..\nb\n":                         "a\n..\nb\n",
		"a\n. \n":                            "a\n. \n",
		"a\n.":                               "a\n",
		".\n":                                "",
		"no end":                             "no end",
		"x.\n.y\n":                           "x.\n.y\n",
		strings.Repeat("z", 5000) + ".\n.\n": strings.Repeat("z", 5000) + ".\n",
	} {
		got, err := io.ReadAll(newDotReader(strings.NewReader(in)))
		if err != nil || string(got) != want {
			t.Errorf("%.20q: got %.20q, want %.20q (%v)", in, got, want, err)
		}
	}
}

func TestIsFromLine(t *testing.T) {
	for line, want := range map[string]bool{
		"From alice@example.com Thu Jan  1 00:00:00 2026\n": true,
		"From MAILER-DAEMON Fri Nov 21 09:05:01 2026\r\n":   true,
		"From - Mon Jan 5 1:02 2026":                        true,
		"From here on, nothing splits.\n":                   false,
		"From: alice@example.com\n":                         false,
		"From 12:30\n":                                      false,
	} {
		if got := isFromLine([]byte(line)); got != want {
			t.Errorf("%q: %v", line, got)
		}
	}
}

func TestUnescaper(t *testing.T) {
	in := ">From a\nFrom b\n>>From c\n> From d\nx >From e\n>Fromage\n"
	want := "From a\nFrom b\n>From c\n> From d\nx >From e\n>Fromage\n"
	if got, _ := io.ReadAll(newUnescaper(strings.NewReader(in))); string(got) != want {
		t.Errorf("got %q", got)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1: "1 byte", 1023: "1023 bytes", 1024: "1 KiB", 10 << 20: "10 MiB",
		10240000: "9.8 MiB", 35882577: "34.2 MiB", 1 << 30: "1 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}

func TestSysexitCode(t *testing.T) {
	dns := &smtpkit.Error{Phase: smtpkit.PhaseConnect, Err: &net.DNSError{Err: "no such host", Name: "nx.invalid", IsNotFound: true}}
	tests := []struct {
		err  error
		want int
	}{
		{dns, exNoHost},
		{&smtpkit.Error{Phase: smtpkit.PhaseConnect, Err: errors.New("connection refused")}, exTempFail},
		{&smtpkit.Error{Phase: smtpkit.PhaseGreeting, Err: smtpkit.ErrGreetingTimeout}, exTempFail},
		{&smtpkit.Error{Phase: smtpkit.PhaseRcpt, Code: 450}, exTempFail},
		{&smtpkit.Error{Phase: smtpkit.PhaseRcpt, Code: 550}, exUnavailable},
		{&smtpkit.Error{Phase: smtpkit.PhaseAuth, Code: 535, Err: smtpkit.ErrAuthFailed}, exNoPerm},
		{&smtpkit.Error{Phase: smtpkit.PhaseAuth, Code: 454}, exTempFail},
		{&smtpkit.Error{Phase: smtpkit.PhaseTLS, Err: errors.New("bad certificate")}, exUnavailable},
		{&smtpkit.Error{Phase: smtpkit.PhaseEHLO, Err: smtpkit.ErrProtocol}, exProtocol},
		{usageError{errors.New("x")}, exUsage},
		{configError{errors.New("x")}, exConfig},
		{messageError{errors.New("x")}, exDataErr},
		{&partialError{1, 2, "recipients"}, exUnavailable},
		{errors.New("x"), exSoftware},
	}
	for _, tt := range tests {
		if got := sysexitCode(tt.err); got != tt.want {
			t.Errorf("%v: %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestProgress(t *testing.T) {
	var out syncBuffer
	p := startProgress(&out, 3)
	p.add()
	p.add()
	p.finish()
	s := out.String()
	if !strings.HasPrefix(s, "\rsending [") || !strings.Contains(s, "/3") || !strings.HasSuffix(s, strings.Repeat(" ", 60)+"\r") {
		t.Errorf("%q", s)
	}
	if isTerminal(&out) {
		t.Error("a buffer is not a terminal")
	}

	// A count kept elsewhere, such as a Runner's attempts, is drawn as it
	// stands, never past the total.
	var attempts atomic.Int64
	attempts.Store(5)
	var out2 syncBuffer
	p = startProgressFunc(&out2, 4, attempts.Load)
	p.finish()
	if s := out2.String(); !strings.Contains(s, "] 4/4") || strings.Contains(s, "5/4") {
		t.Errorf("%q", s)
	}
}

// syncBuffer is a strings.Builder safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
