package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/smtptest"
)

// writeFile writes a file into dir and returns its name.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// decodeJSON parses the one JSON object of stdout.
func decodeJSON[T any](t *testing.T, r execResult) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not the JSON expected: %v\n%s", err, r)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", r)
	}
	return v
}

func TestBinaryProbeDemo(t *testing.T) {
	r := execBin(t, execOpts{}, "probe", "--demo")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	for _, want := range []string{
		"Security:     starttls (asked for tls-auto)", "Certificates: 1, the server's own", "  [0] subject: CN=smtptest",
		"      SHA-256: ", "Size limit:   10 MiB (10485760 bytes)",
		"AUTH:         SCRAM-SHA-256 PLAIN LOGIN", "  PIPELINING", "#1 ehlo", "total",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
}

func TestBinaryProbeJSON(t *testing.T) {
	srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
	srv.Users = map[string]string{"alice": "pw"}
	srv.AuthMechanisms = []string{"SCRAM-SHA-256", "PLAIN"}
	srv.Start()
	defer srv.Close()
	ca := caFile(t)
	r := execBin(t, execOpts{}, "probe", "--json", "-v", "--ca-file", ca, srv.Addr)
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	p := decodeJSON[probeJSON](t, r)
	if !p.OK || p.ExitCode != 0 || p.Error != nil || p.Server != srv.Addr || p.Security != "starttls" || p.AskedSecurity != "tls-auto" {
		t.Errorf("report %+v", p)
	}
	if p.TLS == nil || p.TLS.Version != "TLS 1.3" || len(p.TLS.Certificates) != 1 ||
		p.TLS.Certificates[0].SHA256 != certFingerprint(smtptest.Certificate()) ||
		!slices.Contains(p.TLS.Certificates[0].DNSNames, "localhost") {
		t.Errorf("TLS %+v", p.TLS)
	}
	if p.SizeLimit == nil || *p.SizeLimit != 10<<20 || !slices.Contains(p.Capabilities, "PIPELINING") ||
		!slices.Equal(p.AuthMechanisms, []string{"SCRAM-SHA-256", "PLAIN"}) {
		t.Errorf("capabilities %v, size %v, auth %v", p.Capabilities, p.SizeLimit, p.AuthMechanisms)
	}
	if len(p.Timings) == 0 || p.Timings[0].Phase != "connect" {
		t.Errorf("timings %+v", p.Timings)
	}
	// With --json the transcript goes to stderr, so stdout stays one object.
	if !strings.Contains(r.stderr, " ~> EHLO") || strings.Contains(r.stdout, "EHLO") {
		t.Errorf("the transcript is not on stderr alone:\n%s", r)
	}

	r = execBin(t, execOpts{}, "probe", "--json", "-s", "none", "127.0.0.1:1")
	p = decodeJSON[probeJSON](t, r)
	if r.code != exitRefused || p.OK || p.ExitCode != exitRefused || p.Error == nil || p.Error.Phase != "connect" {
		t.Errorf("refused connection: %+v %+v\n%s", p, p.Error, r)
	}
}

func TestBinaryExitCodes(t *testing.T) {
	silent := smtptest.NewRawServer(func(c *smtptest.RawConn) { c.WaitClose() })
	defer silent.Close()
	plain := plainServer(t)
	auth := authServer(t, smtptest.StartTLS, "PLAIN")
	ca := caFile(t)
	proxy := smtptest.NewSOCKS5Proxy(smtptest.ProxyConfig{Username: "alice", Password: "pr0xy-secret"})
	defer proxy.Close()
	msg := writeFile(t, t.TempDir(), "m.eml", "From: a@example.com\nTo: b@example.org\nSubject: x\n\nhi\n", 0o600)
	noRcpt := writeFile(t, t.TempDir(), "n.eml", "From: a@example.com\nSubject: x\n\nhi\n", 0o600)
	send := func(srv string) []string { return []string{"send", "-s", "none", "--server", srv, msg} }
	tests := []struct {
		name  string
		args  []string
		env   []string
		code  int
		phase string
	}{
		{"connection refused", []string{"probe", "-s", "none", "127.0.0.1:1"}, nil, exitRefused, "connect"},
		{"greeting timeout", []string{"probe", "-s", "none", "--greeting-timeout", "200ms", silent.Addr}, nil, exitGreeting, "greeting"},
		{"greeting refused", []string{"probe", "-s", "none", scripted(t, map[string]string{"greeting": "554 go away"}).Addr},
			nil, exitGreeting, "greeting"},
		{"EHLO and HELO refused", []string{"probe", "-s", "none", scripted(t, map[string]string{"EHLO": "502 no", "HELO": "502 no"}).Addr},
			nil, exitEHLO, "ehlo"},
		{"TLS required, not offered", []string{"probe", "-s", "starttls", plain.Addr}, nil, exitTLS, "starttls"},
		{"certificate not trusted", []string{"probe", "-s", "starttls", auth.Addr}, nil, exitTLS, "tls"},
		{"wrong password", []string{"check", "-u", "alice", "--ca-file", ca, auth.Addr}, []string{"SMTPKIT_PASSWORD=wrong"}, exitAuth, "auth"},
		{"proxy refuses", []string{"probe", "-s", "none", "--proxy", "socks5://alice:wrong@" + proxy.Addr, plain.Addr}, nil, exitProxy, "connect"},
		{"MAIL refused", send(scripted(t, map[string]string{"MAIL": "553 5.7.1 sender refused"}).Addr), nil, exitMail, "mail"},
		{"RCPT refused", send(scripted(t, map[string]string{"RCPT": "550 5.1.1 no such user"}).Addr), nil, exitRcpt, "rcpt"},
		{"DATA refused", send(scripted(t, map[string]string{"DATA": "554 5.3.0 not today"}).Addr), nil, exitData, "data"},
		{"message refused", send(scripted(t, map[string]string{".": "554 5.7.1 spam"}).Addr), nil, exitData, "data"},
		{"usage", []string{"send", "--server", plain.Addr, "--subject", "x", "--from", "a@example.com"}, nil, exitUsage, ""},
		{"unknown flag", []string{"probe", "--no-such-flag"}, nil, exitUsage, ""},
		{"unknown command", []string{"no-such-command"}, nil, exitUsage, ""},
		{"no recipient in the message", []string{"send", "-s", "none", "--server", plain.Addr, noRcpt}, nil, exitDataErr, ""},
		{"no such file", []string{"send", "-s", "none", "--server", plain.Addr, "/nonexistent/m.eml"}, nil, exitNoInput, ""},
		{"no such config", []string{"probe", "--config", "/nonexistent/smtpkit.toml"}, nil, exitConfig, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execBin(t, execOpts{env: tt.env}, tt.args...)
			if r.code != tt.code {
				t.Fatalf("want exit %d:\n%s", tt.code, r)
			}
			if tt.args[0] == "probe" || tt.args[0] == "check" || tt.args[0] == "send" {
				js := execBin(t, execOpts{env: tt.env}, append([]string{tt.args[0], "--json"}, tt.args[1:]...)...)
				if tt.name == "unknown flag" {
					return // flag syntax errors come before any JSON
				}
				var v struct {
					OK       bool       `json:"ok"`
					Error    *errorJSON `json:"error"`
					ExitCode int        `json:"exit_code"`
				}
				if err := json.Unmarshal([]byte(js.stdout), &v); err != nil {
					t.Fatalf("--json: %v\n%s", err, js)
				}
				if js.code != tt.code || v.OK || v.ExitCode != tt.code || v.Error == nil || v.Error.Phase != tt.phase {
					t.Errorf("--json: want exit %d and phase %q, got %+v %+v\n%s", tt.code, tt.phase, v, v.Error, js)
				}
			}
		})
	}
}

func TestBinarySendFile(t *testing.T) {
	srv := plainServer(t)
	msg := writeFile(t, t.TempDir(), "m.eml", "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n"+
		"Bcc: hidden@example.org\r\nSubject: file\r\n\r\nHello from a file.\r\n", 0o600)
	r := execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--from", "envelope@example.com", "--to", "carol@example.net", msg)
	if r.code != 0 || !strings.Contains(r.stdout, "Accepted:     carol@example.net") {
		t.Fatalf("%s", r)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "envelope@example.com" || !slices.Equal(got[0].To, []string{"carol@example.net"}) {
		t.Fatalf("the server got %+v", got)
	}
	if data := string(got[0].Data); strings.Contains(data, "Bcc") || !strings.Contains(data, "Subject: file\r\n\r\nHello from a file.") {
		t.Errorf("data:\n%s", data)
	}
}

func TestBinarySendStdinEnvelopeFromHeaders(t *testing.T) {
	srv := plainServer(t)
	in := "From: Alice <alice@example.com>\nTo: Bob <bob@example.org>, carol@example.net\nCc: dave@example.org\n" +
		"Bcc: eve@example.org,\n frank@example.org\nSubject: stdin\n\nHello.\n"
	r := execBin(t, execOpts{stdin: in}, "send", "-s", "none", "--server", srv.Addr, "--json", "-")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	res := decodeJSON[sendJSON](t, r)
	want := []string{"bob@example.org", "carol@example.net", "dave@example.org", "eve@example.org", "frank@example.org"}
	if !res.OK || len(res.Messages) != 1 || !slices.Equal(res.Messages[0].Accepted, want) || res.Messages[0].Source != "standard input" {
		t.Errorf("result %+v", res)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "alice@example.com" || !slices.Equal(got[0].To, want) {
		t.Fatalf("the server got %+v", got)
	}
	if data := string(got[0].Data); strings.Contains(data, "Bcc") || strings.Contains(data, "frank") || !strings.Contains(data, "Cc: dave@example.org\r\n") {
		t.Errorf("the Bcc field went out, or more was lost:\n%s", data)
	}
}

func TestBinarySendComposedWithAttachments(t *testing.T) {
	srv := plainServer(t)
	dir := t.TempDir()
	text := writeFile(t, dir, "notes.txt", "some notes\n", 0o600)
	binary := make([]byte, 3000)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	bin := writeFile(t, dir, "data.bin", string(binary), 0o600)
	r := execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--from", "Zoë <zoe@example.com>",
		"--to", "bob@example.org", "--cc", "Carol <carol@example.net>", "--bcc", "eve@example.org",
		"--subject", "Réunion", "--body", "Hello, here are the files.\nÀ bientôt.", "--attach", text, "--attach", bin,
		"--header", "Reply-To: replies@example.com")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "zoe@example.com" ||
		!slices.Equal(got[0].To, []string{"bob@example.org", "carol@example.net", "eve@example.org"}) {
		t.Fatalf("the server got %+v", got)
	}
	m, err := mail.ReadMessage(strings.NewReader(string(got[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	from, _ := m.Header.AddressList("From")
	if subject != "Réunion" || len(from) != 1 || from[0].Name != "Zoë" || m.Header.Get("Date") == "" ||
		!strings.HasPrefix(m.Header.Get("Message-ID"), "<") || m.Header.Get("Reply-To") != "replies@example.com" ||
		m.Header.Get("Bcc") != "" || strings.Contains(string(got[0].Data), "eve@") || m.Header.Get("MIME-Version") != "1.0" {
		t.Errorf("header %v", m.Header)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts []*multipart.Part
	var bodies [][]byte
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts, bodies = append(parts, p), append(bodies, b)
	}
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	if ct := parts[0].Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" ||
		parts[0].Header.Get("Content-Transfer-Encoding") != "quoted-printable" || !strings.Contains(string(bodies[0]), "=C3=80 bient=C3=B4t") {
		t.Errorf("text part %v:\n%s", parts[0].Header, bodies[0])
	}
	for i, want := range [][]byte{[]byte("some notes\n"), binary} {
		p := parts[i+1]
		if p.Header.Get("Content-Transfer-Encoding") != "base64" || p.FileName() != filepath.Base([]string{text, bin}[i]) {
			t.Errorf("attachment %d: %v", i, p.Header)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(bodies[i+1])), "\r\n") {
			if len(line) > 76 {
				t.Errorf("attachment %d: a base64 line of %d characters", i, len(line))
			}
		}
		decoded, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(bodies[i+1]), "\r\n", ""))
		if err != nil || string(decoded) != string(want) {
			t.Errorf("attachment %d does not decode to the file: %v", i, err)
		}
	}
}

func TestBinarySendDirAndMbox(t *testing.T) {
	srv := pickyServer(t)
	dir := t.TempDir()
	writeFile(t, dir, "01.eml", "From: a@example.com\nTo: b@example.org\nBcc: hidden@example.org\nSubject: one\n\none\n", 0o600)
	writeFile(t, dir, "02.eml", "From: a@example.com\nTo: c@example.org, nobody@example.org\nSubject: two\n\ntwo\n", 0o600)
	writeFile(t, dir, "03.eml", "From: a@example.com\nTo: nobody2@example.org\nSubject: three\n\nthree\n", 0o600)
	writeFile(t, dir, "04.eml", "Subject: no envelope\n\nfour\n", 0o600)
	writeFile(t, dir, "notes.txt", "not a message\n", 0o600)

	r := execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--dir", dir, "--connections", "2")
	if r.code != exitPartial {
		t.Fatalf("want exit %d:\n%s", exitPartial, r)
	}
	for _, want := range []string{"Messages:     4 from", "Accepted:     2 message(s), for 3 recipient(s)", "Failed:       2 message(s)",
		"Refused:      2 recipient(s)", "2 × 550 5.1.1 no such user here [rcpt]", "02.eml: nobody@example.org", "03.eml: nobody2@example.org",
		"1 × no sender: the message has no From field", "04.eml"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r)
		}
	}
	if got := srv.received(); len(got) != 2 {
		t.Errorf("the server got %d messages, want 2", len(got))
	}

	r = execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--dir", dir, "--json")
	res := decodeJSON[sendJSON](t, r)
	if r.code != exitPartial || res.OK || res.ExitCode != exitPartial || res.Summary.Messages != 4 || res.Summary.Sent != 2 ||
		res.Summary.Failed != 2 || res.Summary.RecipientsAccepted != 3 || res.Summary.RecipientsRefused != 2 ||
		len(res.Summary.Refusals) != 2 || res.Summary.Refusals[0].Count != 2 || res.Summary.Refusals[0].Phase != "rcpt" {
		t.Errorf("result %+v %+v\n%s", res, res.Summary, r)
	}
	if m := res.Messages[2]; m.OK || m.Error == nil || m.Error.Phase != "rcpt" || m.Error.Code != 550 || m.Error.Enhanced != "5.1.1" ||
		len(m.Refused) != 1 || m.Refused[0].Address != "nobody2@example.org" {
		t.Errorf("the third message: %+v", m)
	}
	if m := res.Messages[0]; !m.OK || !slices.Equal(m.To, []string{"b@example.org", "hidden@example.org"}) {
		t.Errorf("the first message: %+v", m)
	}

	mbox := writeFile(t, t.TempDir(), "box.mbox", "From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n"+
		"From: a@example.com\nTo: mbox1@example.org\nSubject: first\n\nhello\n>From the start of a line\n>>From deeper\n\n"+
		"From someone@example.com Thu Jan  1 00:00:01 2026\n"+
		"From: a@example.com\nTo: mbox2@example.org\nSubject: second\n\nFrom here on, nothing splits.\n\n", 0o600)
	before := len(srv.received())
	r = execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--mbox", mbox, "--json")
	res = decodeJSON[sendJSON](t, r)
	if r.code != 0 || !res.OK || res.Summary.Sent != 2 {
		t.Fatalf("%+v\n%s", res, r)
	}
	got := srv.received()[before:]
	slices.SortFunc(got, func(a, b smtptest.Message) int { return strings.Compare(a.To[0], b.To[0]) })
	if len(got) != 2 || got[0].To[0] != "mbox1@example.org" ||
		string(got[0].Data) != "From: a@example.com\r\nTo: mbox1@example.org\r\nSubject: first\r\n\r\nhello\r\nFrom the start of a line\r\n>From deeper\r\n" ||
		!strings.HasSuffix(string(got[1].Data), "\r\n\r\nFrom here on, nothing splits.\r\n") {
		t.Errorf("the server got %+v", got)
	}
}

func TestBinarySendDemo(t *testing.T) {
	r := execBin(t, execOpts{}, "send", "--demo")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	for _, want := range []string{"Accepted:     recipient@example.org", "The demo server received 1 message(s):",
		"MAIL FROM:<sender@example.com> RCPT TO:<recipient@example.org> over TLS", "  | Subject: Hello from smtpkit"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	r = execBin(t, execOpts{}, "send", "--demo", "--json", "--to", "x@example.org", "--subject", "json demo")
	res := decodeJSON[sendJSON](t, r)
	if r.code != 0 || !res.Demo || len(res.Received) != 1 || !slices.Equal(res.Received[0].To, []string{"x@example.org"}) ||
		!res.Received[0].TLS || !strings.Contains(res.Received[0].Data, "Subject: json demo") {
		t.Errorf("%+v\n%s", res, r)
	}
}

func TestBinarySendmail(t *testing.T) {
	srv := plainServer(t)
	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	message := "To: Bob <bob@example.org>\nCc: carol@example.net\nBcc: eve@example.org\nSubject: via sendmail\n\n" +
		"first line\n.\nafter the dot\n"

	// As a link named sendmail, recipients from the header, -i, -f.
	r := execBin(t, execOpts{name: "sendmail", home: home, stdin: message}, "-t", "-i", "-f", "bounces@example.com", "-Fignored", "-odi", "-oem", "-bm")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("sendmail should be silent and succeed:\n%s", r)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "bounces@example.com" ||
		!slices.Equal(got[0].To, []string{"bob@example.org", "carol@example.net", "eve@example.org"}) {
		t.Fatalf("the server got %+v", got)
	}
	data := string(got[0].Data)
	for _, want := range []string{"To: Bob <bob@example.org>\r\n", "\r\nfirst line\r\n.\r\nafter the dot\r\n", "\r\nDate: ", "\r\nMessage-ID: <",
		"\r\nFrom: \"ignored\" <bounces@example.com>\r\n"} {
		if !strings.Contains(data, want) {
			t.Errorf("data lacks %q:\n%s", want, data)
		}
	}
	if strings.Contains(data, "Bcc") || strings.Contains(data, "eve@") {
		t.Errorf("the Bcc field went out:\n%s", data)
	}

	// Without -i a lone dot ends the message; recipients as arguments after --;
	// the sender is the account's from; an existing From field is kept.
	r = execBin(t, execOpts{name: "sendmail", home: home, stdin: "From: Me <me@example.com>\nSubject: dot\n\nbefore\n.\nafter\n"},
		"-odb", "--", "x@example.org", "Y <y@example.org>, z@example.org")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	got = srv.Messages()
	if len(got) != 2 || got[1].From != "robot@example.com" || !slices.Equal(got[1].To, []string{"x@example.org", "y@example.org", "z@example.org"}) {
		t.Fatalf("the server got %+v", got[1:])
	}
	if data := string(got[1].Data); !strings.HasSuffix(data, "\r\nbefore\r\n") || !strings.HasPrefix(data, "From: Me <me@example.com>\r\n") ||
		strings.Count(data, "From:") != 1 {
		t.Errorf("data:\n%s", data)
	}

	// As a subcommand, with -v: a transcript on stdout.
	r = execBin(t, execOpts{home: home, stdin: "Subject: sub\n\nbody\n"}, "sendmail", "-v", "-t", "--account", "local", "-fme@example.com", "w@example.org")
	if r.code != 0 || !strings.Contains(r.stdout, " -> MAIL FROM:<me@example.com>") || !strings.Contains(r.stdout, "<-  250") {
		t.Fatalf("%s", r)
	}
	if got := srv.Messages(); len(got) != 3 || !slices.Equal(got[2].To, []string{"w@example.org"}) {
		t.Errorf("the server got %+v", got[2:])
	}
}

func TestBinarySendmailExitCodes(t *testing.T) {
	auth := authServer(t, smtptest.Plain, "PLAIN")
	picky := pickyServer(t)
	dir := t.TempDir()
	rc := func(addr string, extra ...string) string {
		home := filepath.Join(dir, strings.NewReplacer(":", "_", ".", "_").Replace(addr)+strings.Join(extra, "_"))
		msmtprc(t, home, addr, extra...)
		return home
	}
	authHome := rc(auth.Addr, "auth plain", "user alice", "password Wr0ng-pa55")
	pickyHome := rc(picky.Addr)
	msg := "Subject: x\n\nhi\n"
	cleartext := []string{"SMTPKIT_ALLOW_CLEARTEXT_AUTH=true"}
	noQueue := []string{"SMTPKIT_QUEUE_ON_FAILURE=false"} // the transient failures are queued otherwise: see queue_test.go
	tests := []struct {
		name string
		home string
		env  []string
		args []string
		code int
	}{
		{"unknown option", pickyHome, nil, []string{"-Z", "a@example.org"}, exUsage},
		{"a mode it lacks", pickyHome, nil, []string{"-bs"}, exUsage},
		{"no recipient", pickyHome, nil, nil, exUsage},
		{"no recipient in the header", pickyHome, nil, []string{"-t"}, exDataErr},
		{"no account", t.TempDir(), nil, []string{"a@example.org"}, exConfig},
		{"connection refused, no queue", rc("127.0.0.1:1"), noQueue, []string{"a@example.org"}, exTempFail},
		{"login refused", authHome, cleartext, []string{"a@example.org"}, exNoPerm},
		{"recipient refused", pickyHome, nil, []string{"nobody@example.org"}, exUnavailable},
		{"recipient busy, no queue", pickyHome, noQueue, []string{"later@example.org"}, exTempFail},
		{"connection refused, queued", rc("127.0.0.1:1", "# queued"), nil, []string{"a@example.org"}, 0},
		{"recipient busy, queued", pickyHome, nil, []string{"later@example.org"}, 0},
		{"one busy, one refused: the busy one queued", pickyHome, nil, []string{"later@example.org", "nobody@example.org"}, exUnavailable},
		{"one of two refused", pickyHome, nil, []string{"ok@example.org", "nobody@example.org"}, exUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execBin(t, execOpts{name: "sendmail", home: tt.home, env: tt.env, stdin: msg}, tt.args...)
			if r.code != tt.code || !strings.HasPrefix(r.stderr, "sendmail: ") {
				t.Errorf("want exit %d and an error on stderr:\n%s", tt.code, r)
			}
			if queued := strings.Contains(r.stderr, "sendmail: queued as "); queued != strings.HasSuffix(tt.name, "queued") {
				t.Errorf("queued: %v, want %v:\n%s", queued, !queued, r)
			}
			if strings.Contains(r.stderr, "Wr0ng-pa55") {
				t.Errorf("stderr shows the password:\n%s", r)
			}
		})
	}
}

func TestBinaryTranscriptRedacted(t *testing.T) {
	const password = "Sup3r-secret-pw"
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"} {
		t.Run(mech, func(t *testing.T) {
			srv := smtptest.NewUnstartedServer(smtptest.StartTLS)
			srv.Users = map[string]string{"alice": password}
			srv.AuthMechanisms = []string{mech}
			srv.Start()
			defer srv.Close()
			r := execBin(t, execOpts{env: []string{"SMTPKIT_PASSWORD=" + password}},
				"check", "-v", "-u", "alice", "--ca-file", caFile(t), srv.Addr)
			if r.code != 0 || !strings.Contains(r.stdout, " ~> AUTH "+mech) || !strings.Contains(r.stdout, "<~  235") ||
				!strings.Contains(r.stdout, "=== TLS up") || !strings.Contains(r.stdout, " -> STARTTLS") {
				t.Fatalf("%s", r)
			}
			for _, secret := range []string{password, base64.StdEncoding.EncodeToString([]byte(password)),
				base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + password))} {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("the output shows the password as %q:\n%s", secret, r)
				}
			}
		})
	}
	// A failed login: <~* marks the refusal, *** the error.
	srv := authServer(t, smtptest.StartTLS, "PLAIN")
	r := execBin(t, execOpts{env: []string{"SMTPKIT_PASSWORD=" + password}}, "check", "-v", "-u", "alice", "--ca-file", caFile(t), srv.Addr)
	if r.code != exitAuth || !strings.Contains(r.stdout, "<~* 535") || !strings.Contains(r.stdout, "*** smtp auth") || strings.Contains(r.stdout, password) {
		t.Errorf("%s", r)
	}
}

func TestBinaryConfigFiles(t *testing.T) {
	srv := authServer(t, smtptest.Plain, "PLAIN")
	host, port := splitServer(srv.Addr)
	dir := t.TempDir()
	toml := writeFile(t, dir, "smtpkit.toml", `default_account = "broken"

[defaults]
security = "none"
allow_cleartext_auth = true

[accounts.work]
host = "`+host+`"
port = `+port+`
user = "alice"
password_env = "WORK_PASSWORD"
from = "alice@example.com"

[accounts.broken]
inherit = "work"
port = 1
`, 0o600)
	env := []string{"WORK_PASSWORD=" + checkPassword}

	r := execBin(t, execOpts{env: env}, "check", "--config", toml, "--account", "work")
	if r.code != 0 || !strings.Contains(r.stdout, `Account:      "work" of `+toml) || !strings.Contains(r.stdout, "Login OK for alice at "+srv.Addr) {
		t.Fatalf("TOML account: %s", r)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"the file's default account is broken", nil, nil, exitRefused},
		{"a flag overrides the file", nil, []string{"--port", port}, 0},
		{"the environment overrides the file", []string{"SMTPKIT_PORT=" + port}, nil, 0},
		{"a flag overrides the environment", []string{"SMTPKIT_PORT=1"}, []string{"--port", port}, 0},
		{"--url overrides the environment", []string{"SMTPKIT_HOST=192.0.2.1"}, []string{"--url", "smtp://" + srv.Addr}, 0},
		{"$SMTPKIT_CONFIG names the file", []string{"SMTPKIT_CONFIG=" + toml}, []string{"--account", "work"}, 0},
		{"no such account", nil, []string{"--account", "wrok"}, exitConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"check", "--json"}, tt.args...)
			if !slices.ContainsFunc(tt.env, func(s string) bool { return strings.HasPrefix(s, "SMTPKIT_CONFIG=") }) {
				args = append(args, "--config", toml)
			}
			r := execBin(t, execOpts{env: append(slices.Clone(env), tt.env...)}, args...)
			res := decodeJSON[checkJSON](t, r)
			if r.code != tt.code || res.ExitCode != tt.code || (tt.code == 0) != res.OK {
				t.Fatalf("want exit %d: %+v\n%s", tt.code, res, r)
			}
			if tt.code == 0 && (res.Server != srv.Addr || res.User != "alice" || res.Mechanism != "PLAIN") {
				t.Errorf("%+v", res)
			}
			if tt.name == "no such account" && !strings.Contains(res.Error.Message, `did you mean "work"`) {
				t.Errorf("%+v", res.Error)
			}
		})
	}

	// msmtp's file in $HOME is read when the command line names no server;
	// flags not given do not override it: msmtp's "tls off" stays none
	// although --security defaults to tls-auto.
	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	r = execBin(t, execOpts{home: home}, "probe", "--json")
	p := decodeJSON[probeJSON](t, r)
	if r.code != 0 || p.Server != srv.Addr || p.AskedSecurity != "none" {
		t.Errorf("probe with ~/.msmtprc: %+v\n%s", p, r)
	}
	r = execBin(t, execOpts{home: home}, "probe", "--json", "--security", "starttls")
	if p := decodeJSON[probeJSON](t, r); r.code != exitTLS || p.AskedSecurity != "starttls" {
		t.Errorf("a flag over ~/.msmtprc: %+v\n%s", p, r)
	}
	// A server named on the command line: no file is read.
	r = execBin(t, execOpts{home: home}, "probe", "--json", "127.0.0.1:1")
	if p := decodeJSON[probeJSON](t, r); r.code != exitRefused || p.AskedSecurity != "tls-auto" {
		t.Errorf("probe HOST read ~/.msmtprc: %+v\n%s", p, r)
	}
	// smtpkit's own file comes before msmtp's.
	writeFile(t, home, ".config/smtpkit/config.toml", "[accounts.only]\nhost = \"127.0.0.1\"\nport = 1\n", 0o600)
	r = execBin(t, execOpts{home: home}, "probe", "--json")
	if p := decodeJSON[probeJSON](t, r); r.code != exitRefused || p.Server != "127.0.0.1:1" {
		t.Errorf("~/.config/smtpkit/config.toml: %+v\n%s", p, r)
	}
}

func TestBinaryHelpAndCompletion(t *testing.T) {
	r := execBin(t, execOpts{}, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "bash completion") || !strings.Contains(r.stdout, "smtpkit") {
		t.Errorf("completion bash: %s", r)
	}
	r = execBin(t, execOpts{}, "--help")
	for _, want := range []string{"Exit codes", "  24  RCPT TO", "  3  partial", "flags >\nenvironment > file", "sendmail", "completion"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q:\n%s", want, r)
		}
	}
	r = execBin(t, execOpts{}, "send", "--help")
	if !strings.Contains(r.stdout, "Settings: flags > environment > file") || !strings.Contains(r.stdout, "--attach") {
		t.Errorf("send --help: %s", r)
	}
	r = execBin(t, execOpts{name: "sendmail"}, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "EX_TEMPFAIL") || !strings.Contains(r.stdout, "-oi") {
		t.Errorf("sendmail --help: %s", r)
	}
}

// TestAddressesCheckedAlikeEverywhere: an address with CR LF is refused
// from every source, before anything is sent: a sendmail argument and
// --to with the usage code, a header of sendmail -t as bad data.
func TestAddressesCheckedAlikeEverywhere(t *testing.T) {
	srv := plainServer(t)
	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	bad := "bob@example.org\r\nRCPT TO:<eve@example.org>"
	r := execBin(t, execOpts{name: "sendmail", home: home, stdin: "Subject: x\n\nhi\n"}, bad)
	if r.code != exUsage || !strings.Contains(r.stderr, "not allowed in an address") {
		t.Errorf("sendmail ARG with CR LF: exit %d, want %d:\n%s", r.code, exUsage, r)
	}
	r = execBin(t, execOpts{home: home, stdin: "hi\n"}, "send", "--from", "a@example.com", "--to", bad)
	if r.code != exitUsage || !strings.Contains(r.stderr, "not allowed in an address") {
		t.Errorf("send --to with CR LF: exit %d, want %d:\n%s", r.code, exitUsage, r)
	}
	r = execBin(t, execOpts{name: "sendmail", home: home, stdin: "To: bob@example.org\n\teve@example.org, <x\n\nhi\n"}, "-t")
	if r.code != exDataErr {
		t.Errorf("sendmail -t with a broken To: exit %d, want %d:\n%s", r.code, exDataErr, r)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages sent, want none", n)
	}
}
