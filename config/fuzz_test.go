package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
)

// marker stands for a password in the fuzz targets: it must never appear in
// an error, a warning or a printed account.
const marker = "MaRkEr7secret9"

// noMarker fails when what a parse produced shows the marker.
func noMarker(t *testing.T, input string, f *File, a *Account, err error) {
	t.Helper()
	var out strings.Builder
	if err != nil {
		out.WriteString(err.Error())
	}
	if f != nil {
		fmt.Fprintf(&out, "%v %+v %s", f, f, f.String())
		for _, w := range f.Warnings {
			out.WriteString(w.String())
		}
		for _, acct := range f.Accounts {
			printAccount(&out, acct)
		}
	}
	if a != nil {
		printAccount(&out, a)
	}
	if strings.Contains(out.String(), marker) {
		t.Fatalf("the output shows the password:\ninput: %q\noutput: %s", input, out.String())
	}
}

// printAccount prints a every way it may be printed, and checks it.
func printAccount(out *strings.Builder, a *Account) {
	fmt.Fprintf(out, "%v %+v %#v %s %q %x %d", a, a, a, a, a, *a, *a)
	slog.New(slog.NewTextHandler(out, nil)).Info("acct", "a", a)
	if err := a.Check(); err != nil {
		out.WriteString(err.Error())
	}
	out.WriteString(a.Addr())
}

// insertLine inserts line among the lines of s, at a place chosen by s.
func insertLine(s, line string) string {
	lines := strings.Split(s, "\n")
	i := len(s) % (len(lines) + 1)
	lines = append(lines[:i], append([]string{line}, lines[i:]...)...)
	return strings.Join(lines, "\n")
}

// seed adds the files of testdata and some broken documents to f.
func seed(f *testing.F, files []string, docs ...string) {
	for _, name := range files {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	for _, d := range docs {
		f.Add(d)
	}
}

var tomlSecretLine = regexp.MustCompile(`(?m)^(\s*(?:password|password_command|token|token_command)\s*=\s*)("[^"\n]*"|'[^'\n]*')`)

func FuzzParseTOML(f *testing.F) {
	seed(f, []string{"full.toml", "seed.toml"},
		"[accounts.a]\nhost = \"h\"\npassword = \"p\"\nport = 70000\n",
		"[accounts.a]\ninherit = \"b\"\n[accounts.b]\ninherit = \"a\"\n",
		"[accounts]\na = { host = \"h\", password_command = \"echo x\" }\n",
		"[defaults]\npassword = \"\"\"\nmulti\nline\"\"\"\n[accounts.x]\nhost = '''\n'''\n",
		"default_account = 1\n[[accounts]]\n", "x = [1, \"a\"]\n[accounts.a]\nport = 0x1F\n")
	f.Fuzz(func(t *testing.T, doc string) {
		file, err := ParseTOML("fuzz.toml", []byte(doc))
		if err == nil {
			for _, a := range file.Accounts {
				printAccount(&strings.Builder{}, a)
			}
		}
		if strings.Contains(doc, marker) {
			return
		}
		for _, variant := range []string{
			tomlSecretLine.ReplaceAllString(doc, `${1}"`+marker+`"`),
			insertLine(doc, `password = "`+marker+`"`),
			insertLine(doc, `password_command = 'echo `+marker+`'`),
		} {
			file, err := ParseTOML("fuzz.toml", []byte(variant))
			noMarker(t, variant, file, nil, err)
		}
	})
}

var msmtpSecretLine = regexp.MustCompile(`(?m)^([ \t]*(?:password|passwordeval)[ \t]+).*$`)

func FuzzParseMsmtprc(f *testing.F) {
	seed(f, []string{"full.msmtprc"},
		"host h\nuser u\npassword p\n",
		"account a\nhost h\naccount b : a, c\n",
		"defaults\ntls on\naccount x\nhost \"h\"\ntls_fingerprint AA:BB\nauth gssapi\n",
		"account a\n\tpassword \"quoted\\\" secret\"\r\npasswordeval \"gpg -d x\"\n")
	f.Fuzz(func(t *testing.T, doc string) {
		file, err := ParseMsmtprc("msmtprc", []byte(doc))
		if err == nil {
			for _, a := range file.Accounts {
				printAccount(&strings.Builder{}, a)
			}
		}
		if strings.Contains(doc, marker) {
			return
		}
		for _, variant := range []string{
			msmtpSecretLine.ReplaceAllString(doc, "${1}"+marker),
			insertLine(doc, "password "+marker),
			insertLine(doc, "passwordeval \"echo "+marker+"\""),
		} {
			file, err := ParseMsmtprc("msmtprc", []byte(variant))
			noMarker(t, variant, file, nil, err)
		}
	})
}

var dotnetPassword = regexp.MustCompile(`password\s*=\s*("[^"]*"|'[^']*')`)

func FuzzParseDotNetConfig(f *testing.F) {
	seed(f, []string{"App.config", "web.config"},
		`<configuration><system.net><mailSettings><smtp><network host="h" password="a&b" /></smtp></mailSettings></system.net></configuration>`,
		`<configuration><system.net><mailSettings><smtp deliveryMethod="x"><network port="1" enableSsl="maybe" password='p'/></smtp><smtp/></mailSettings></system.net></configuration>`,
		"<configuration>\n<system.net>\n<mailSettings>\n<smtp from=\"&lt;\"><network\n password=\"p\"\n bogus=\"1\"/></smtp>",
		`<?xml version="1.0" encoding="latin1"?><configuration/>`)
	f.Fuzz(func(t *testing.T, doc string) {
		file, err := ParseDotNetConfig("web.config", []byte(doc))
		if err == nil {
			for _, a := range file.Accounts {
				printAccount(&strings.Builder{}, a)
			}
		}
		if strings.Contains(doc, marker) {
			return
		}
		for _, variant := range []string{
			dotnetPassword.ReplaceAllString(doc, `password="`+marker+`"`),
			strings.Replace(doc, "<network ", `<network password="`+marker+`" `, 1),
		} {
			file, err := ParseDotNetConfig("web.config", []byte(variant))
			noMarker(t, variant, file, nil, err)
		}
	})
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"smtp://user%40example.com:secret@smtp.example.com:587?security=starttls&from=sender@example.com",
		"smtps://u:p@[::1]:465?auth=PLAIN,LOGIN&timeout=1m&tls_versions=1.2,1.3",
		"smtp://u:p/w@h:x", "smtp://h?port=1&port=2", "smtp://h?proxy=socks5://a:b@c:1", "smtp://%zz", "smtp://h#f",
		"smtp://h?password_command=echo+x&user=u",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := ParseURL(raw)
		if err == nil {
			printAccount(&strings.Builder{}, a)
		}
		if strings.Contains(raw, marker) {
			return
		}
		var variants []string
		if u, err := url.Parse(raw); err == nil {
			for _, key := range []string{"password", "password_command", "token"} {
				v := *u
				q := v.Query()
				q.Set(key, marker)
				v.RawQuery = q.Encode()
				variants = append(variants, v.String())
			}
			name := "user"
			if u.User != nil {
				name = u.User.Username()
			}
			u.User = url.UserPassword(name, marker)
			variants = append(variants, u.String())
		}
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			variants = append(variants, "smtp://user:"+marker+raw[i:])
		}
		for _, v := range variants {
			a, err := ParseURL(v)
			noMarker(t, v, nil, a, err)
		}
	})
}

// TestFuzzSeedsPrintNoPassword runs the marker checks once on a few inputs
// outside fuzzing, where a password would show if redaction broke.
func TestFuzzSeedsPrintNoPassword(t *testing.T) {
	f, err := ParseTOML("t.toml", []byte("[accounts.a]\nhost = \"h\"\nuser = \"u\"\npassword = \""+marker+"\"\n"))
	noMarker(t, "", f, nil, err)
	f, err = ParseMsmtprc("rc", []byte("account a\nhost h\npassword "+marker+"\nauth on\nfoo\n"))
	noMarker(t, "", f, nil, err)
	a, err := ParseURL("smtp://u:" + marker + "@h:x")
	noMarker(t, "", nil, a, err)
	var buf bytes.Buffer
	buf.WriteString(marker)
	if !strings.Contains(buf.String(), marker) {
		t.Fatal("the marker check checks nothing")
	}
}
