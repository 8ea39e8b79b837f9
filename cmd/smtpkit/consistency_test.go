package main

// Tests of the command line as a new user meets it: one default for every
// command, messages in flags, the demo, exit codes, config errors,
// warnings, habits from other tools, empty messages, man pages, and
// summaries that match what the server said.

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// TestOneDefaultEverywhere: every command that reaches a server has the
// same security mode and time limits by default, the library's; a probe
// that finds a server the default refuses says which flag reaches it.
func TestOneDefaultEverywhere(t *testing.T) {
	root := newRootCommand()
	want := map[string]string{
		"security":         smtpkit.SecurityTLSAuto.String(),
		"connect-timeout":  smtpkit.DefaultConnectTimeout.String(),
		"greeting-timeout": smtpkit.DefaultGreetingTimeout.String(),
		"command-timeout":  smtpkit.DefaultCommandTimeout.String(),
		"data-timeout":     smtpkit.DefaultDataTimeout.String(),
	}
	for _, name := range []string{"probe", "check", "send", "modes"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		for flag, def := range want {
			f := cmd.Flags().Lookup(flag)
			if f == nil || f.DefValue != def {
				t.Errorf("%s --%s: default %v, want %s like every command", name, flag, f, def)
			}
		}
	}

	plain := plainServer(t)
	out, code := run(t, "probe", plain.Addr)
	if code != exitTLS || !strings.Contains(out, "--security starttls-if-offered") {
		t.Errorf("probe of a plaintext server with the default: exit %d, want %d and the flag that reaches it:\n%s", code, exitTLS, out)
	}
	out, code = run(t, "probe", "-s", "auto", plain.Addr)
	if code != 0 || !strings.Contains(out, "Security:     none (asked for auto)") ||
		!strings.Contains(out, "the default --security tls-auto refuses it") ||
		!strings.Contains(out, "reach it with --security starttls-if-offered, or --security none") {
		t.Errorf("probe --security auto of a plaintext server: exit %d, want 0 and a note naming the flags:\n%s", code, out)
	}
	r := execBin(t, execOpts{}, "probe", "--json", "-s", "auto", plain.Addr)
	if p := decodeJSON[probeJSON](t, r); r.code != 0 || !slices.Equal(p.Hints, []string{"--security starttls-if-offered", "--security none"}) {
		t.Errorf("probe --json: hints %q, want the flags that reach the server\n%s", p.Hints, r)
	}
	// The flag the probe named reaches the server from send too.
	out, code = run(t, "send", "--security", "starttls-if-offered", "--server", plain.Addr,
		"--from", "a@example.com", "--to", "b@example.org", "--subject", "x", "--body", "y")
	if code != 0 || len(plain.Messages()) != 1 {
		t.Errorf("send with the flag probe named: exit %d:\n%s", code, out)
	}
	// A server that offers TLS gets no note.
	tlsSrv := smtptest.NewServer(smtptest.StartTLS)
	defer tlsSrv.Close()
	out, code = run(t, "probe", "--ca-file", caFile(t), tlsSrv.Addr)
	if code != 0 || strings.Contains(out, "Note:") {
		t.Errorf("probe of a STARTTLS server: exit %d, want 0 and no note:\n%s", code, out)
	}
}

// TestMessagesSpeakFlags: the library's warnings print as the command's
// own, and a problem with a setting made by a flag names flags.
func TestMessagesSpeakFlags(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	r := execBin(t, execOpts{}, "probe", "--ca-file", caFile(t), "--tls-versions", "ssl3,1.2", srv.Addr)
	if r.code != 0 || !strings.Contains(r.stderr, "smtpkit: warning: TLS versions this runtime (Go's crypto/tls) cannot speak were dropped") ||
		!strings.Contains(r.stderr, `(dropped="SSL 3.0" allowed="TLS 1.2")`) || strings.Contains(r.stderr, "level=") || strings.Contains(r.stderr, "msg=") {
		t.Errorf("want the warning as smtpkit: warning: ... (key=value):\n%s", r)
	}

	auth := authServer(t, smtptest.StartTLS, "XOAUTH2", "PLAIN")
	r = execBin(t, execOpts{env: []string{"SMTPKIT_PASSWORD=" + checkPassword}}, "check", "-u", "alice", "--auth", "XOAUTH2", auth.Addr)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--auth XOAUTH2") || !strings.Contains(r.stderr, "--token-env") ||
		strings.Contains(r.stderr, "set token_command or token_env") || strings.Contains(r.stderr, "command line") {
		t.Errorf("--auth XOAUTH2 without a token: want exit %d and flags named:\n%s", exitUsage, r)
	}
	compose := []string{"send", "--server", "127.0.0.1:1", "--from", "a@example.com", "--to", "b@example.org", "--subject", "x"}
	r = execBin(t, execOpts{env: []string{"PW=x"}}, append(compose, "--password-env", "PW")...)
	if r.code != exitUsage || !strings.HasPrefix(r.stderr, "smtpkit: --user: ") {
		t.Errorf("a password without a user: want exit %d and --user named once after the program's name:\n%s", exitUsage, r)
	}
	r = execBin(t, execOpts{}, append(compose, "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem")...)
	if r.code != exitConfig || !strings.HasPrefix(r.stderr, `smtpkit: --cert "/nonexistent/c.pem": `) || strings.Contains(r.stderr, "TLS.") {
		t.Errorf("a client certificate that cannot be read: want exit %d and flags alone named:\n%s", exitConfig, r)
	}
	r = execBin(t, execOpts{env: []string{"SMTPKIT_PASSWORD=" + checkPassword}}, "check", "-u", "alice", "-s", "none", auth.Addr)
	if r.code != exitAuth || !strings.Contains(r.stderr, "--allow-cleartext-auth") || strings.Contains(r.stderr, "Auth.") {
		t.Errorf("a password refused over plaintext: want exit %d and the flag named:\n%s", exitAuth, r)
	}
}

// TestWarnHandler: a record is one line, its attributes key=value, groups
// as prefixes, values quoted when they hold spaces.
func TestWarnHandler(t *testing.T) {
	var out strings.Builder
	h := newWarnHandler(&out)
	logger := slog.New(h).With("path", "/tmp/a b").WithGroup("tls")
	logger.Warn("smtpkit: something was dropped", "dropped", "SSL 3.0", "n", 2)
	logger.Info("plain news")
	want := "smtpkit: warning: something was dropped (path=\"/tmp/a b\" tls.dropped=\"SSL 3.0\" tls.n=2)\n" +
		"smtpkit: plain news (path=\"/tmp/a b\")\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestLoginFailureWording: a refused login reads as a wrong login, and a
// server that accepts without proving it knows the password as the
// suspicious case it is.
func TestLoginFailureWording(t *testing.T) {
	r := execBin(t, execOpts{env: []string{"WRONG=not-the-password"}}, "check", "--demo", "--password-env", "WRONG")
	if r.code != exitAuth || !strings.Contains(r.stderr, "535") || !strings.Contains(r.stderr, "wrong user name, password or token") ||
		strings.Contains(r.stderr, "could not prove") || strings.Contains(r.stderr, "may not be the server") {
		t.Errorf("a wrong SCRAM password: want exit %d, read as a wrong login:\n%s", exitAuth, r)
	}

	impostor := smtptest.NewRawServer(func(c *smtptest.RawConn) {
		c.Send("220 impostor.test ESMTP")
		for {
			line, err := c.ReadLine()
			if err != nil {
				return
			}
			switch verb, _, _ := strings.Cut(strings.ToUpper(line), " "); verb {
			case "EHLO":
				c.Send("250-impostor.test", "250 AUTH SCRAM-SHA-256")
			case "AUTH":
				c.Send("235 2.7.0 any password will do")
			case "QUIT":
				c.Send("221 bye")
				return
			default:
				c.Send("250 ok")
			}
		}
	})
	defer impostor.Close()
	r = execBin(t, execOpts{env: []string{"SMTPKIT_PASSWORD=" + checkPassword}}, "check", "-u", "alice", "-s", "none", impostor.Addr)
	if r.code != exitAuth || !strings.Contains(r.stderr, "accepted the login without proving that it knows the password") ||
		!strings.Contains(r.stderr, "may not be the server you meant") || strings.Contains(r.stderr, "wrong user name") {
		t.Errorf("a server that accepts without proof: want exit %d, read as suspicious:\n%s", exitAuth, r)
	}
}

// TestProbeUntrustedCertificate: a certificate that does not verify is
// shown (subject, issuer, names, dates, days left, SHA-256) with the flags
// that get past it; days left show in a successful probe and its JSON too.
func TestProbeUntrustedCertificate(t *testing.T) {
	srv := smtptest.NewServer(smtptest.StartTLS)
	defer srv.Close()
	cert := smtptest.Certificate()
	fp := certFingerprint(cert)
	days := strconv.Itoa(daysLeft(cert, time.Now()))

	r := execBin(t, execOpts{}, "probe", srv.Addr)
	for _, want := range []string{"Certificates: 1, the server's own, NOT TRUSTED: x509: certificate signed by unknown authority",
		"  [0] subject: CN=smtptest", "      issuer:  CN=smtptest", "      names:   localhost",
		" (expires in " + days + " days)", "      SHA-256: " + fp} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if r.code != exitTLS || !strings.Contains(r.stderr, "--ca-file") || !strings.Contains(r.stderr, "--fingerprint "+fp) {
		t.Errorf("want exit %d and the hints --ca-file and --fingerprint %s:\n%s", exitTLS, fp, r)
	}

	r = execBin(t, execOpts{}, "probe", "--json", srv.Addr)
	p := decodeJSON[probeJSON](t, r)
	if r.code != exitTLS || p.TLS == nil || p.TLS.Trusted || len(p.TLS.Certificates) != 1 || p.TLS.Certificates[0].SHA256 != fp ||
		strconv.Itoa(p.TLS.Certificates[0].DaysLeft) != days || !strings.Contains(p.Error.Message, "--fingerprint "+fp) {
		t.Errorf("--json of an untrusted certificate: %+v %+v\n%s", p.TLS, p.Error, r)
	}

	// The hint works, and a trusted probe shows days left in JSON too.
	r = execBin(t, execOpts{}, "probe", "--json", "--fingerprint", fp, srv.Addr)
	p = decodeJSON[probeJSON](t, r)
	if r.code != 0 || p.TLS == nil || !p.TLS.Trusted || strconv.Itoa(p.TLS.Certificates[0].DaysLeft) != days {
		t.Errorf("probe --fingerprint: %+v\n%s", p.TLS, r)
	}
	r = execBin(t, execOpts{}, "probe", "--json", "--insecure-skip-verify", srv.Addr)
	if p = decodeJSON[probeJSON](t, r); r.code != 0 || p.TLS == nil || p.TLS.Trusted {
		t.Errorf("probe --insecure-skip-verify: the certificate is not trusted, only unchecked: %+v\n%s", p.TLS, r)
	}
}

// TestDemoLoginAndRefusal: the demo has a login (printed when it starts)
// and an address it refuses, on probe, check and send.
func TestDemoLoginAndRefusal(t *testing.T) {
	banner := fmt.Sprintf("login %s, password %s; it refuses mail to %s", demoUser, demoPassword, demoRefused)
	r := execBin(t, execOpts{}, "probe", "--demo")
	if r.code != 0 || !strings.Contains(r.stdout, banner) || !strings.Contains(r.stdout, "AUTH:         SCRAM-SHA-256 PLAIN LOGIN") {
		t.Errorf("probe --demo:\n%s", r)
	}
	r = execBin(t, execOpts{}, "check", "--demo")
	if r.code != 0 || !strings.Contains(r.stdout, banner) || !strings.Contains(r.stdout, "Login OK for demo at 127.0.0.1:") ||
		!strings.Contains(r.stdout, "SCRAM-SHA-256 over TLS 1.3 (starttls)") {
		t.Errorf("check --demo:\n%s", r)
	}
	r = execBin(t, execOpts{}, "check", "--demo", "-u", "mallory")
	if r.code != exitAuth || !strings.Contains(r.stdout, "Login FAILED for mallory") {
		t.Errorf("check --demo as another user: want exit %d:\n%s", exitAuth, r)
	}
	r = execBin(t, execOpts{}, "send", "--demo", "--to", demoRefused)
	if r.code != exitRcpt || !strings.Contains(r.stdout, "Refused:      "+demoRefused+": 550 5.1.1") {
		t.Errorf("send --demo to the refused address: want exit %d:\n%s", exitRcpt, r)
	}
	r = execBin(t, execOpts{}, "send", "--demo", "--json", "--to", "ana@example.org", "--to", demoRefused)
	res := decodeJSON[sendJSON](t, r)
	if r.code != exitPartial || len(res.Received) != 1 || res.Received[0].User != demoUser ||
		!slices.Equal(res.Received[0].To, []string{"ana@example.org"}) || res.Summary.RecipientsRefused != 1 {
		t.Errorf("send --demo to a good and the refused address: want exit %d: %+v\n%s", exitPartial, res, r)
	}
}

// TestConnectExitCodes: a name that does not resolve, a refused connection
// and a connect timeout exit with codes of their own.
func TestConnectExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"name does not resolve", []string{"probe", "-s", "none", "no..such..host:25"}, exitDNS},
		{"connection refused", []string{"probe", "-s", "none", "127.0.0.1:1"}, exitRefused},
	}
	if bh, err := smtptest.NewBlackhole(); err == nil {
		defer bh.Close()
		tests = append(tests, struct {
			name string
			args []string
			code int
		}{"connect timeout", []string{"probe", "-s", "none", "--connect-timeout", "200ms", bh.Addr}, exitConnectTimeout})
	} else {
		t.Logf("no connect timeout case: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execBin(t, execOpts{}, tt.args...)
			if r.code != tt.code {
				t.Errorf("want exit %d:\n%s", tt.code, r)
			}
			r = execBin(t, execOpts{}, append([]string{"probe", "--json"}, tt.args[1:]...)...)
			if p := decodeJSON[probeJSON](t, r); p.ExitCode != tt.code || p.Error == nil || p.Error.ExitCode != tt.code {
				t.Errorf("--json: want exit_code %d: %+v\n%s", tt.code, p.Error, r)
			}
		})
	}
}

// TestExitCodeTable: --help and the README list every exit code, from the
// one table.
func TestExitCodeTable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## The command line\n")
	section, _, _ = strings.Cut(section, "\n## ")
	rows := regexp.MustCompile(`(?m)^\| (\d+) \| (.+) \|$`).FindAllStringSubmatch(section, -1)
	var codes []int
	texts := map[int]string{}
	for _, row := range rows {
		n, _ := strconv.Atoi(row[1])
		codes = append(codes, n)
		texts[n] = row[2]
	}
	r := execBin(t, execOpts{}, "--help")
	var want []int
	for _, c := range exitCodeTable {
		want = append(want, c.code)
		if texts[c.code] != c.text {
			t.Errorf("the README says exit code %d means %q, --help %q", c.code, texts[c.code], c.text)
		}
		if !regexp.MustCompile(`(?m)^ {2,3}` + strconv.Itoa(c.code) + `  \S`).MatchString(r.stdout) {
			t.Errorf("--help does not list exit code %d:\n%s", c.code, r.stdout)
		}
	}
	if !slices.Equal(codes, want) {
		t.Errorf("the README's exit-code table lists %v, want %v", codes, want)
	}
}

// TestConfigErrorPositions: each format's errors name file:line (and the
// column where known) with a hint in that format's terms.
func TestConfigErrorPositions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, content string
		want                []string
	}{
		{"TOML bare word", "smtpkit.toml", "[accounts.work]\nhost = nowhere\n",
			[]string{"smtpkit.toml:2:8: TOML syntax error", `(a text value goes in double quotes: host = "..."`}},
		{"App.config element left open", "App.config",
			"<configuration>\n<system.net>\n<mailSettings>\n<smtp from=\"a@example.com\">\n<network host=\"h\" port=\"25\">\n</smtp>\n</mailSettings>\n</system.net>\n</configuration>\n",
			[]string{"App.config:6: XML syntax error: element <network> closed by </smtp>", "end <network> with </network>"}},
		{"msmtprc", "msmtprc", "account a\nhost h\nport smtp\n", []string{"msmtprc:3: account \"a\": key \"port\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, tt.file, tt.content, 0o600)
			r := execBin(t, execOpts{}, "probe", "--config", path)
			if r.code != exitConfig {
				t.Errorf("want exit %d:\n%s", exitConfig, r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, strings.Replace(w, tt.file, path, 1)) {
					t.Errorf("stderr lacks %q:\n%s", w, r)
				}
			}
		})
	}
}

// TestWarningsOnlyForTheAccountUsed: the file's warnings about accounts a
// run does not use stay quiet.
func TestWarningsOnlyForTheAccountUsed(t *testing.T) {
	srv := plainServer(t)
	host, port := splitServer(srv.Addr)
	home := t.TempDir()
	writeFile(t, home, ".msmtprc", "defaults\ntls on\n\naccount other\nhost 127.0.0.1\nport 1\nlogfile ~/other.log\ntls off\n\n"+
		"account used\nhost "+host+"\nport "+port+"\ntls off\nsyslog on\n\naccount default : used\n", 0o600)
	r := execBin(t, execOpts{home: home}, "probe", "--account", "used")
	if r.code != 0 || !strings.Contains(r.stderr, `account "used": key "tls": tls is off`) || !strings.Contains(r.stderr, `account "used": key "syslog"`) {
		t.Errorf("want the warnings of the account used:\n%s", r)
	}
	if strings.Contains(r.stderr, `"other"`) || strings.Contains(r.stderr, "logfile") {
		t.Errorf("a warning about an account not used:\n%s", r)
	}
}

// TestHabitsFromOtherTools: --password points to where a password comes
// from, a server given as send's FILE is recognized, --version tells the
// build, and a bare smtpkit prints help.
func TestHabitsFromOtherTools(t *testing.T) {
	r := execBin(t, execOpts{}, "check", "-u", "alice", "--password", "secret", "mail.example.com:587")
	if r.code != exitUsage || !strings.Contains(r.stderr, "unknown flag: --password: no flag takes a password") ||
		!strings.Contains(r.stderr, "--password-env") || !strings.Contains(r.stderr, "--password-stdin") || strings.Contains(r.stderr, "secret") {
		t.Errorf("--password: want exit %d and where a password comes from:\n%s", exitUsage, r)
	}
	r = execBin(t, execOpts{}, "send", "--to", "b@example.org", "mail.example.com:587")
	if r.code != exitUsage || !strings.Contains(r.stderr, "did you mean --server mail.example.com:587?") {
		t.Errorf("send HOST:PORT: want exit %d and did you mean --server:\n%s", exitUsage, r)
	}
	r = execBin(t, execOpts{}, "send", "--server", "127.0.0.1:1", "--to", "b@example.org", "missing.eml")
	if r.code != exitNoInput || strings.Contains(r.stderr, "--server") {
		t.Errorf("send of a missing file: want exit %d, not a server hint:\n%s", exitNoInput, r)
	}
	r = execBin(t, execOpts{}, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "smtpkit ") || !strings.Contains(r.stdout, "built with "+runtime.Version()) {
		t.Errorf("--version:\n%s", r)
	}
	r = execBin(t, execOpts{})
	if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "Available Commands:") {
		t.Errorf("a bare smtpkit: want help and exit 0:\n%s", r)
	}
}

// TestSendRefusesEmptyMessage: send refuses an empty message unless
// --allow-empty; sendmail sends it, as sendmail does.
func TestSendRefusesEmptyMessage(t *testing.T) {
	srv := plainServer(t)
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.eml", "", 0o600)
	blankFile := writeFile(t, dir, "blank.eml", "\n\r\n  \n", 0o600)
	base := []string{"send", "-s", "none", "--server", srv.Addr, "--from", "a@example.com", "--to", "b@example.org"}
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"empty standard input", "", []string{"-"}},
		{"empty file", "", []string{empty}},
		{"blank file", "", []string{blankFile}},
		{"blank standard input", "\n\n", nil},
	} {
		r := execBin(t, execOpts{stdin: tt.stdin}, append(slices.Clone(base), tt.args...)...)
		if r.code != exitDataErr || !strings.Contains(r.stderr, "the message is empty: nothing was sent (give --allow-empty") {
			t.Errorf("%s: want exit %d:\n%s", tt.name, exitDataErr, r)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("the server got %d messages", n)
	}
	r := execBin(t, execOpts{}, append(slices.Clone(base), "--allow-empty", empty)...)
	if r.code != 0 || len(srv.Messages()) != 1 {
		t.Errorf("--allow-empty: want exit 0 and a message:\n%s", r)
	}

	bulk := t.TempDir()
	writeFile(t, bulk, "1.eml", "Subject: one\n\nhello\n", 0o600)
	writeFile(t, bulk, "2.eml", "", 0o600)
	r = execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--from", "a@example.com", "--to", "b@example.org", "--dir", bulk, "--json")
	res := decodeJSON[sendJSON](t, r)
	if r.code != exitPartial || res.Summary.Sent != 1 || res.Summary.Failed != 1 || res.Messages[1].Error == nil ||
		!strings.Contains(res.Messages[1].Error.Message, "the message is empty") {
		t.Errorf("--dir with an empty file: %+v\n%s", res, r)
	}

	home := t.TempDir()
	msmtprc(t, home, srv.Addr)
	before := len(srv.Messages())
	r = execBin(t, execOpts{name: "sendmail", home: home}, "b@example.org")
	if r.code != 0 || len(srv.Messages()) != before+1 {
		t.Errorf("sendmail sends an empty message, as sendmail does:\n%s", r)
	}
}

// TestManPagesAndCompletion: documented commands write the man pages and
// the shell completion.
func TestManPagesAndCompletion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	r := execBin(t, execOpts{}, "man", dir)
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	for page, want := range map[string][]string{
		"smtpkit.1":          {`.TH "SMTPKIT" "1"`, "Exit codes", "smtpkit-probe(1)"},
		"smtpkit-probe.1":    {".SH NAME", "smtpkit-probe", "--security", "--fingerprint"},
		"smtpkit-sendmail.1": {"EX_TEMPFAIL"},
		"smtpkit-send.1":     {"--allow-empty"},
	} {
		data, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("%s: %v", page, err)
			continue
		}
		for _, w := range want {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s lacks %q", page, w)
			}
		}
		if !strings.Contains(r.stdout, filepath.Join(dir, page)) {
			t.Errorf("man does not list %s:\n%s", page, r)
		}
	}
	for shell, want := range map[string]string{"bash": "__start_smtpkit", "zsh": "#compdef smtpkit", "fish": "complete -c smtpkit"} {
		r := execBin(t, execOpts{}, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("completion %s: want %q:\n%.300s", shell, want, r.stdout)
		}
	}
	r = execBin(t, execOpts{}, "--help")
	if !strings.Contains(r.stdout, "smtpkit man DIR") || !strings.Contains(r.stdout, "smtpkit completion bash|zsh|fish") {
		t.Errorf("--help does not document man and completion:\n%s", r.stdout)
	}
}

// TestFinalReplyWhole: a final reply of two lines shows both: Exim puts
// the queue id on the second.
func TestFinalReplyWhole(t *testing.T) {
	srv := scripted(t, map[string]string{".": "250-2.0.0 OK\r\n250 2.0.0 queued as 1AbCdE-000123-XY"})
	r := execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--from", "a@example.com", "--to", "b@example.org",
		"--subject", "x", "--body", "y")
	if r.code != 0 || !strings.Contains(r.stdout, "Reply:        250-2.0.0 OK\n              250 2.0.0 queued as 1AbCdE-000123-XY\n") {
		t.Errorf("want both lines of the final reply:\n%s", r)
	}
}

// faultServer is a pipelining server that refuses addresses starting
// with "bad", drops the connection once, at the second RCPT of the second
// transaction, and counts what it said.
type faultServer struct {
	*smtptest.RawServer
	mu                                       sync.Mutex
	mails, queued, rcptsQueued, rcptsRefused int
	dropped                                  bool
}

func newFaultServer(t *testing.T) *faultServer {
	s := &faultServer{}
	s.RawServer = smtptest.NewRawServer(func(c *smtptest.RawConn) {
		c.Send("220 fault.test ESMTP")
		mail, accepted, rcpts := 0, 0, 0
		for {
			line, err := c.ReadLine()
			if err != nil {
				return
			}
			verb, arg, _ := strings.Cut(line, " ")
			s.mu.Lock()
			reply := "250 2.0.0 ok"
			switch strings.ToUpper(verb) {
			case "EHLO":
				reply = "250-fault.test\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING"
			case "MAIL":
				s.mails++
				mail, accepted, rcpts = s.mails, 0, 0
			case "RCPT":
				rcpts++
				switch {
				case strings.HasPrefix(strings.ToLower(arg), "to:<bad"):
					s.rcptsRefused++
					reply = "550 5.1.1 no such user here"
				case mail == 2 && rcpts == 2 && !s.dropped:
					s.dropped = true
					s.mu.Unlock()
					return // the connection drops, the RCPT unanswered
				default:
					accepted++
				}
			case "DATA":
				if accepted == 0 {
					reply = "554 5.5.1 no valid recipients"
					break
				}
				s.mu.Unlock()
				c.Send("354 go ahead")
				for {
					l, err := c.ReadLine()
					if err != nil {
						return
					}
					if l == "." {
						break
					}
				}
				s.mu.Lock()
				s.queued++
				s.rcptsQueued += accepted
				reply = fmt.Sprintf("250-2.0.0 OK\r\n250 2.0.0 queued as Q%d", s.queued)
			case "QUIT":
				s.mu.Unlock()
				c.Send("221 2.0.0 bye")
				return
			}
			s.mu.Unlock()
			c.Send(reply)
		}
	})
	t.Cleanup(s.Close)
	return s
}

// TestBulkSummaryAfterFault: after a connection fault, every count and
// every refusal of the summary is what the server said: no refusal
// without a reply, no recipient counted whose message did not go.
func TestBulkSummaryAfterFault(t *testing.T) {
	srv := newFaultServer(t)
	dir := t.TempDir()
	for i, to := range []string{"a@example.org, bad1@example.org", "c@example.org, d@example.org", "e@example.org", "f@example.org, bad2@example.org"} {
		writeFile(t, dir, fmt.Sprintf("%02d.eml", i+1), "From: s@example.com\nTo: "+to+"\nSubject: x\n\nhi\n", 0o600)
	}
	r := execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--dir", dir, "--connections", "1", "--json")
	res := decodeJSON[sendJSON](t, r)
	srv.mu.Lock()
	queued, rcptsQueued, refused := srv.queued, srv.rcptsQueued, srv.rcptsRefused
	srv.mu.Unlock()
	sum := res.Summary
	if sum.Messages != 4 || sum.Sent != queued || sum.Failed != 4-queued || sum.RecipientsAccepted != rcptsQueued || sum.RecipientsRefused != refused {
		t.Errorf("summary %+v; the server queued %d messages for %d recipients and refused %d recipients\n%s",
			sum, queued, rcptsQueued, refused, r)
	}
	refusals := 0
	for _, g := range sum.Refusals {
		if strings.HasPrefix(g.Reply, "0") || g.Reply == "" {
			t.Errorf("a refusal without a reply: %+v", g)
		}
		for _, e := range g.Examples {
			if strings.HasSuffix(e, ": ") {
				t.Errorf("a refusal without an address: %+v", g)
			}
		}
		if g.Phase == "rcpt" && strings.HasPrefix(g.Reply, "550 5.1.1") {
			refusals += g.Count
		}
	}
	if refusals != refused {
		t.Errorf("the summary groups %d refusals, the server refused %d: %+v", refusals, refused, sum.Refusals)
	}
	for _, m := range res.Messages {
		for _, rf := range m.Refused {
			if rf.Code < 400 || rf.Address == "" {
				t.Errorf("%s: a refusal the server never made: %+v", m.Source, rf)
			}
		}
	}
	// The message the fault cut short never sent its data: it went again
	// on a new connection, and its recipients are counted once.
	if m := res.Messages[1]; !m.OK || !slices.Equal(m.Accepted, []string{"c@example.org", "d@example.org"}) || len(m.Unanswered) != 0 {
		t.Errorf("the message cut short: %+v", m)
	}
	if raw, _ := json.Marshal(res.Messages[0].Reply); !strings.Contains(string(raw), `queued as Q1`) {
		t.Errorf("the first message's reply lacks its second line: %s", raw)
	}

	r = execBin(t, execOpts{}, "send", "-s", "none", "--server", srv.Addr, "--dir", dir, "--connections", "1")
	if strings.Contains(r.stdout, "× 0") || !strings.Contains(r.stdout, "× 550 5.1.1 no such user here [rcpt]") {
		t.Errorf("the text summary:\n%s", r)
	}
}
