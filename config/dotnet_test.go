package config

import (
	"context"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit"
)

func TestLoadDotNetConfigWebConfig(t *testing.T) {
	f, err := LoadDotNetConfig("testdata/web.config")
	if err != nil {
		t.Fatal(err)
	}
	a := mustAccount(t, f, "")
	if a.Name != "default" || a.Host != "smtp.example.com" || a.Port != 465 || a.User != "user@example.com" ||
		a.From != "sender@example.com" || a.LocalName != "client.example.com" {
		t.Errorf("account = %v", a)
	}
	if a.Security != smtpkit.SecurityImplicitTLS {
		t.Errorf("enableSsl with port 465: %v, want implicit-tls", a.Security)
	}
	if pw, _ := a.Password.Resolve(context.Background()); pw != "p&ss w0rd" {
		t.Errorf("password %q, want the entity decoded", pw)
	}
	if o, _ := a.Origin("password"); o.Line != 17 || o.Key != "password" {
		t.Errorf("Origin(password) = %v, want line 17", o)
	}
	if o, _ := a.Origin("port"); o.Line != 15 {
		t.Errorf("Origin(port) = %v, want line 15", o)
	}
	warned := map[string]int{}
	for _, w := range f.Warnings {
		warned[w.Key] = w.Line
	}
	if warned["enableSsl"] != 18 || warned["targetName"] != 21 || warned["deliveryFormat"] != 12 {
		t.Errorf("warnings %v; want enableSsl (465), targetName and deliveryFormat", f.Warnings)
	}
}

func TestDotNetEnableSsl(t *testing.T) {
	tests := []struct {
		network  string
		security smtpkit.Security
		port     int
	}{
		{`host="h" enableSsl="true"`, smtpkit.SecurityStartTLS, 25},
		{`host="h" enableSsl="TRUE" port="587"`, smtpkit.SecurityStartTLS, 587},
		{`host="h" enableSsl="true" port="465"`, smtpkit.SecurityImplicitTLS, 465},
		{`host="h" enableSsl="false" port="465"`, smtpkit.SecurityNone, 465},
		{`host="h"`, smtpkit.SecurityNone, 25},
	}
	for _, tt := range tests {
		doc := `<configuration><system.net><mailSettings><smtp><network ` + tt.network +
			` /></smtp></mailSettings></system.net></configuration>`
		f, err := ParseDotNetConfig("App.config", []byte(doc))
		if err != nil {
			t.Errorf("%s: %v", tt.network, err)
			continue
		}
		a := f.Accounts[0]
		if a.Security != tt.security || a.Port != tt.port {
			t.Errorf("%s: security %v port %d, want %v %d", tt.network, a.Security, a.Port, tt.security, tt.port)
		}
		if a.LogsIn() {
			t.Errorf("%s: logs in without userName", tt.network)
		}
	}
}

func TestDotNetErrors(t *testing.T) {
	wrap := func(smtp string) string {
		return "<?xml version=\"1.0\"?>\n<configuration>\n<system.net>\n<mailSettings>\n" + smtp + "\n</mailSettings>\n</system.net>\n</configuration>\n"
	}
	tests := []struct {
		name, doc string
		line      int
		key       string
		says      []string
	}{
		{"pickup directory", wrap(`<smtp deliveryMethod="SpecifiedPickupDirectory"><specifiedPickupDirectory pickupDirectoryLocation="c:\mail"/></smtp>`), 5, "deliveryMethod", []string{"writes mail to a directory"}},
		{"bad delivery method", wrap(`<smtp deliveryMethod="Carrier"><network host="h"/></smtp>`), 5, "deliveryMethod", []string{"not a delivery method"}},
		{"default credentials", wrap("<smtp>\n<network host=\"h\"\n defaultCredentials=\"true\" /></smtp>"), 7, "defaultCredentials", []string{"Windows integrated login", "not supported"}},
		{"unknown attribute", wrap("<smtp>\n<network host=\"h\" EnableSsl=\"true\" /></smtp>"), 6, "EnableSsl", []string{"no such attribute", `did you mean "enableSsl"`}},
		{"bad port", wrap("<smtp>\n<network host=\"h\" port=\"smtp\" /></smtp>"), 6, "port", []string{"not a port"}},
		{"port out of range", wrap("<smtp>\n<network host=\"h\" port=\"0\" /></smtp>"), 6, "port", []string{"from 1 to 65535"}},
		{"bad bool", wrap("<smtp>\n<network host=\"h\" enableSsl=\"yes\" /></smtp>"), 6, "enableSsl", []string{"not true or false"}},
		{"bad host", wrap("<smtp>\n<network host=\"smtp.example.com:587\" /></smtp>"), 6, "host", []string{"own setting"}},
		{"unknown element", wrap("<smtp>\n<netwrok host=\"h\" /></smtp>"), 6, "<netwrok>", []string{`did you mean "network"`}},
		{"not smtp", wrap("<pop3 />"), 5, "<pop3>", []string{"holds only <smtp>"}},
		{"no network", wrap(`<smtp from="a@example.com" />`), 5, "network", []string{"no server"}},
		{"config source", wrap(`<smtp configSource="smtp.config" />`), 5, "configSource", []string{"load the file it names"}},
		{"two smtp", wrap("<smtp><network host=\"h\"/></smtp>\n<smtp/>"), 6, "<smtp>", []string{"twice"}},
		{"bad from", wrap(`<smtp from="Name &lt;broken"><network host="h"/></smtp>`), 5, "from", []string{"not a mail address"}},
		{"syntax", "<configuration>\n<system.net>\n<mailSettings><smtp><network host=\"h\" password=\"s3cret&x\"/></smtp></mailSettings>\n</system.net></configuration>", 3, "", []string{"XML syntax error", "&amp;"}},
		{"unclosed", "<configuration>\n<system.net>\n", 3, "", []string{"XML syntax error"}},
		{"end tag of another element", wrap("<smtp>\n<network host=\"h\">\n</smtp>"), 7, "", []string{"web.config:7: XML syntax error",
			"element <network> closed by </smtp>", "end <network> with </network>"}},
		{"wrong root", "<?xml version=\"1.0\"?>\n<settings/>", 2, "", []string{"not a .NET configuration file"}},
		{"utf-16", "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<configuration/>", 1, "", []string{"UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDotNetConfig("web.config", []byte(tt.doc))
			if tt.name == "utf-16" {
				if err == nil || !strings.Contains(err.Error(), "web.config") || !strings.Contains(err.Error(), "UTF-8") {
					t.Errorf("error %v", err)
				}
				return
			}
			wantError(t, err, "web.config", tt.line, tt.key, tt.says...)
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestDotNetNoMailSettings(t *testing.T) {
	_, err := ParseDotNetConfig("web.config", []byte("<configuration><appSettings/></configuration>"))
	if err == nil || !strings.Contains(err.Error(), "web.config: ") || !strings.Contains(err.Error(), "no SMTP settings") {
		t.Errorf("error %v", err)
	}
	f, err := ParseDotNetConfig("web.config", []byte("<configuration><system.net><mailSettings><smtp><network port=\"587\"/></smtp></mailSettings></system.net></configuration>"))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, f.Accounts[0].Check(), "web.config", 1, "host", "no host is set")
}
