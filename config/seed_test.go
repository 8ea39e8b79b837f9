package config

import (
	"context"
	"testing"
)

// TestSeedExampleSameAccountInEveryFormat loads the same account from a
// .NET App.config, a TOML file and a URL, and checks they agree.
func TestSeedExampleSameAccountInEveryFormat(t *testing.T) {
	dotnet, err := LoadDotNetConfig("testdata/App.config")
	if err != nil {
		t.Fatal(err)
	}
	fromTOML, err := LoadTOML("testdata/seed.toml")
	if err != nil {
		t.Fatal(err)
	}
	fromURL, err := ParseURL("smtp://user%40example.com:secret@smtp.example.com:587?security=starttls&from=sender@example.com")
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		host, user, password, security, from, addr string
		port                                       int
		logsIn                                     bool
	}
	summarize := func(a *Account) summary {
		t.Helper()
		opts, err := a.Options(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if opts.Auth == nil {
			t.Fatalf("%v: no Auth", a)
		}
		return summary{a.Host, opts.Auth.Username, opts.Auth.Password, opts.Security.String(), a.From, a.Addr(), a.Port, a.LogsIn()}
	}
	want := summary{"smtp.example.com", "user@example.com", "secret", "starttls", "sender@example.com",
		"smtp.example.com:587", 587, true}
	for name, a := range map[string]*Account{
		"App.config": mustAccount(t, dotnet, ""),
		"TOML":       mustAccount(t, fromTOML, ""),
		"URL":        fromURL,
	} {
		if got := summarize(a); got != want {
			t.Errorf("%s: %+v\nwant %+v", name, got, want)
		}
	}
	for _, w := range dotnet.Warnings {
		if w.Key != "" { // not the one about the file's mode, which depends on the checkout
			t.Errorf("App.config: warning %s", w)
		}
	}
}
