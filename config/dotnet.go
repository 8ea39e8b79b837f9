package config

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/smtpkit/smtpkit"
)

// LoadDotNetConfig reads a .NET App.config or web.config file; see ParseDotNetConfig.
func LoadDotNetConfig(path string) (*File, error) {
	return load(path, ParseDotNetConfig)
}

// ParseDotNetConfig parses data, the contents of the .NET configuration
// file (App.config, web.config) called name, and returns its
// configuration/system.net/mailSettings/smtp element as one account called
// "default":
//
//	<configuration>
//	  <system.net>
//	    <mailSettings>
//	      <smtp from="sender@example.com" deliveryMethod="Network">
//	        <network host="smtp.example.com" port="587" userName="user@example.com"
//	                 password="secret" enableSsl="true" clientDomain="client.example.com" />
//	      </smtp>
//	    </mailSettings>
//	  </system.net>
//	</configuration>
//
// The attributes map onto smtpkit as System.Net.Mail.SmtpClient uses them:
//
//	from                  From (the address of "Name <address>")
//	deliveryMethod        only Network (the default) sends mail; the pickup
//	                      directory methods are errors
//	host, port            Host, Port; the port defaults to 25, as in .NET
//	userName, password    User and the password; without userName, no login
//	enableSsl="true"      SecurityStartTLS: SmtpClient only speaks STARTTLS
//	                      (RFC 3207) and fails against implicit TLS. With
//	                      port 465, where only implicit TLS can work, it is
//	                      SecurityImplicitTLS instead, and a warning says so.
//	enableSsl="false"     SecurityNone (the default): no TLS, as in .NET
//	defaultCredentials    "true" (Windows integrated login) is an error: it
//	                      is not supported; give userName and password
//	clientDomain          LocalName, the EHLO name
//	targetName            ignored with a warning (Kerberos SPN)
//	deliveryFormat        ignored with a warning
//
// Other sections of the file are skipped. Unknown attributes and elements
// in mailSettings are errors, as they are for .NET; errors name the file,
// the line and the attribute, and never hold the password.
func ParseDotNetConfig(name string, data []byte) (*File, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := &dotnetReader{name: name, data: data, file: &File{Name: name}}
	r.dec = xml.NewDecoder(bytes.NewReader(data))
	r.dec.CharsetReader = func(charset string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("the file declares the encoding %q: save it as UTF-8", charset)
	}
	if err := r.read(); err != nil {
		if !errors.As(err, new(*Error)) {
			err = r.syntax(err) // from the decoder's Skip: no file name yet
		}
		r.errs.addErr(err)
	}
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	if r.acct == nil {
		return nil, &Error{Origin: Origin{File: name}, Err: errors.New(
			"there is no configuration/system.net/mailSettings/smtp element: the file has no SMTP settings")}
	}
	r.finish()
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	r.file.Accounts = []*Account{r.acct}
	r.file.Default = r.acct.Name
	return r.file, nil
}

// dotnetReader reads a .NET configuration file.
type dotnetReader struct {
	name string
	data []byte
	dec  *xml.Decoder
	file *File
	errs errorList
	acct *Account

	smtpLine, networkLine int
	enableSsl             bool
	enableSslAt           Origin
	password              string
	passwordAt            Origin
}

// element is a start element with where its tag begins and ends in the data.
type element struct {
	xml.StartElement
	start, end int64
}

// next returns the next token and the offsets of its start and end.
func (r *dotnetReader) next() (xml.Token, int64, int64, error) {
	start := r.dec.InputOffset()
	tok, err := r.dec.Token()
	if err != nil {
		return nil, start, start, r.syntax(err)
	}
	return tok, start, r.dec.InputOffset(), nil
}

// syntax turns the decoder's error into an *Error that never quotes the file.
func (r *dotnetReader) syntax(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		msg := se.Msg
		switch {
		case strings.HasPrefix(msg, "invalid character entity"):
			msg = "an & that does not start an entity such as &amp; (write & as &amp;)"
		case strings.Contains(msg, " closed by </"):
			start, _, _ := strings.Cut(strings.TrimPrefix(msg, "element <"), ">")
			msg += fmt.Sprintf(" (end <%s> with </%s> before, or write it empty as <%s ... />)", start, start, start)
		case msg == "unexpected EOF":
			msg = "the file ends inside an element: some element lacks its end tag"
		}
		return &Error{Origin: Origin{File: r.name, Line: se.Line}, Err: fmt.Errorf("XML syntax error: %s", msg)}
	}
	if err == io.EOF {
		return &Error{Origin: Origin{File: r.name}, Err: errors.New("the file ends before its root element: it is not a .NET configuration file")}
	}
	return &Error{Origin: Origin{File: r.name}, Err: fmt.Errorf("cannot read the XML: %v", err)}
}

// read walks the document down to mailSettings.
func (r *dotnetReader) read() error {
	var root *element
	for root == nil {
		tok, start, end, err := r.next()
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok {
			root = &element{se, start, end}
		}
	}
	if root.Name.Local != "configuration" {
		return &Error{Origin: Origin{File: r.name, Line: r.lineAt(root.start)}, Err: fmt.Errorf(
			"the root element is <%s>, not <configuration>: this is not a .NET configuration file", root.Name.Local)}
	}
	return r.children(func(e *element) error {
		if e.Name.Local != "system.net" {
			return r.dec.Skip()
		}
		return r.children(func(e *element) error {
			if e.Name.Local != "mailSettings" {
				return r.dec.Skip()
			}
			r.attrs(e, "", nil)
			return r.children(func(e *element) error {
				if e.Name.Local != "smtp" {
					r.errs.add(r.at(e, ""), "", "<mailSettings> holds only <smtp>, not <%s>", e.Name.Local)
					return r.dec.Skip()
				}
				return r.smtp(e)
			})
		})
	})
}

// children calls fn for each child element of the element just read; fn
// must consume the child, through its end element.
func (r *dotnetReader) children(fn func(*element) error) error {
	for {
		tok, start, end, err := r.next()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(&element{t, start, end}); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// smtp reads <smtp> and its children.
func (r *dotnetReader) smtp(e *element) error {
	if r.acct != nil {
		r.errs.add(r.at(e, ""), "", "<smtp> appears twice: keep one")
		return r.dec.Skip()
	}
	r.acct = &Account{Name: "default", DefinedAt: Origin{File: r.name, Line: r.lineAt(e.start)}}
	r.smtpLine = r.lineAt(e.start)
	r.attrs(e, "default", map[string]func(o Origin, v string){
		"from": func(o Origin, v string) {
			addr := strings.TrimSpace(v)
			if strings.ContainsAny(addr, "<\"") {
				a, err := mail.ParseAddress(addr)
				if err != nil {
					r.errs.add(o, "default", "%s is not a mail address", showValue(v))
					return
				}
				addr = a.Address
			}
			r.setAttr(o, "from", addr)
		},
		"deliveryMethod": func(o Origin, v string) {
			switch strings.ToLower(v) {
			case "network":
			case "specifiedpickupdirectory", "pickupdirectoryfromiis":
				r.errs.add(o, "default", "%s writes mail to a directory, which smtpkit cannot do: "+
					"use deliveryMethod=\"Network\" with a <network host=...> element", v)
			default:
				r.errs.add(o, "default", "%s is not a delivery method: want Network", showValue(v))
			}
		},
		"deliveryFormat": func(o Origin, v string) {
			r.file.warn(o, "default", "ignored: smtpkit sends the message as it is given")
		},
	})
	return r.children(func(c *element) error {
		switch c.Name.Local {
		case "network":
			r.network(c)
		case "specifiedPickupDirectory":
			r.file.warn(r.at(c, ""), "default", "ignored: smtpkit delivers over the network only")
		default:
			r.errs.add(r.at(c, ""), "default", "<smtp> holds <network> and <specifiedPickupDirectory>, not <%s>%s",
				c.Name.Local, didYouMean(c.Name.Local, []string{"network", "specifiedPickupDirectory"}))
		}
		return r.dec.Skip()
	})
}

// network reads the attributes of <network>.
func (r *dotnetReader) network(e *element) {
	r.networkLine = r.lineAt(e.start)
	r.acct.DefinedAt.Line = r.networkLine
	r.attrs(e, "default", map[string]func(o Origin, v string){
		"host":     func(o Origin, v string) { r.setAttr(o, "host", v) },
		"userName": func(o Origin, v string) { r.setAttr(o, "user", v) },
		"port": func(o Origin, v string) {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > 65535 {
				r.errs.add(o, "default", "%s is not a port: want a number from 1 to 65535", showValue(v))
				return
			}
			r.acct.Port = n
			r.acct.mark(fPort, o)
		},
		"password": func(o Origin, v string) { r.password, r.passwordAt = v, o },
		"enableSsl": func(o Origin, v string) {
			b, ok := dotnetBool(v)
			if !ok {
				r.errs.add(o, "default", "%s is not true or false", showValue(v))
				return
			}
			r.enableSsl, r.enableSslAt = b, o
		},
		"defaultCredentials": func(o Origin, v string) {
			b, ok := dotnetBool(v)
			switch {
			case !ok:
				r.errs.add(o, "default", "%s is not true or false", showValue(v))
			case b:
				r.errs.add(o, "default", "Windows integrated login (defaultCredentials=\"true\") is not supported: "+
					"set defaultCredentials=\"false\" and give userName and password")
			}
		},
		"clientDomain": func(o Origin, v string) { r.setAttr(o, "ehlo_name", v) },
		"targetName": func(o Origin, v string) {
			r.file.warn(o, "default", "ignored: smtpkit's NTLM does not use a service principal name")
		},
	})
}

// setAttr stores an attribute's value as the setting key.
func (r *dotnetReader) setAttr(o Origin, key, v string) {
	if v == "" {
		return
	}
	if err := r.acct.apply(o, key, value{kind: kString, s: v}); err != nil {
		r.errs.addErr(&Error{Origin: o, Account: "default", Err: err})
	}
}

// finish turns what was read into the account's security, port and login.
func (r *dotnetReader) finish() {
	a := r.acct
	if r.networkLine == 0 {
		r.errs.add(Origin{File: r.name, Line: r.smtpLine, Key: "network"}, "default",
			"<smtp> has no <network host=\"...\"> element, so there is no server to send to")
		return
	}
	if !a.set.has(fPort) {
		a.Port = 25 // .NET's default
		a.mark(fPort, Origin{File: r.name, Line: r.networkLine})
	}
	switch {
	case !r.enableSsl:
		a.Security = smtpkit.SecurityNone
		o := r.enableSslAt
		if o == (Origin{}) {
			o = Origin{File: r.name, Line: r.networkLine}
		}
		a.mark(fSecurity, o)
		r.file.warn(o, "default", "enableSsl is not true, so, as in .NET, mail and password go unencrypted: "+
			"set enableSsl=\"true\" (or override the security)")
	case a.Port == 465:
		a.Security = smtpkit.SecurityImplicitTLS
		a.mark(fSecurity, r.enableSslAt)
		r.file.warn(r.enableSslAt, "default", "with port 465, enableSsl means implicit TLS here; "+
			".NET's SmtpClient would try STARTTLS and fail")
	default:
		a.Security = smtpkit.SecurityStartTLS
		a.mark(fSecurity, r.enableSslAt)
	}
	if r.password != "" {
		a.Password = SecretValue(r.password)
		a.Password.at, a.Password.account = r.passwordAt, "default"
		a.mark(fPassword, r.passwordAt)
	}
}

// dotnetBool parses a .NET configuration boolean.
func dotnetBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// configAttrs are the attributes every .NET configuration element may have.
var configAttrs = map[string]bool{
	"lockAttributes": true, "lockAllAttributesExcept": true, "lockElements": true,
	"lockAllElementsExcept": true, "lockItem": true,
}

// attrs calls the handler of each of e's attributes; configSource and
// unknown attributes are errors.
func (r *dotnetReader) attrs(e *element, account string, handlers map[string]func(Origin, string)) {
	for _, at := range e.Attr {
		if at.Name.Space != "" || at.Name.Local == "xmlns" || configAttrs[at.Name.Local] {
			continue // namespaces, transforms (xdt:), locks
		}
		o := r.at(e, at.Name.Local)
		if at.Name.Local == "configSource" {
			r.errs.add(o, account, "configSource is not followed: load the file it names instead")
			continue
		}
		h, ok := handlers[at.Name.Local]
		if !ok {
			names := make([]string, 0, len(handlers))
			for n := range handlers {
				names = append(names, n)
			}
			sort.Strings(names)
			if len(names) == 0 {
				r.errs.add(o, account, "<%s> takes no attributes here", e.Name.Local)
				continue
			}
			r.errs.add(o, account, "<%s> has no such attribute%s; its attributes are %s",
				e.Name.Local, didYouMean(at.Name.Local, names), strings.Join(names, ", "))
			continue
		}
		h(o, at.Value)
	}
}

// at returns the origin of attribute attr of e (of e itself when attr is
// ""): the line the attribute's name is on.
func (r *dotnetReader) at(e *element, attr string) Origin {
	o := Origin{File: r.name, Line: r.lineAt(e.start), Key: attr}
	if attr == "" {
		o.Key = "<" + e.Name.Local + ">"
		return o
	}
	if e.start >= 0 && e.end <= int64(len(r.data)) && e.start < e.end {
		tag := r.data[e.start:e.end]
		re := regexp.MustCompile(`[\s]` + regexp.QuoteMeta(attr) + `\s*=`)
		if loc := re.FindIndex(tag); loc != nil {
			o.Line = r.lineAt(e.start + int64(loc[0]) + 1)
		}
	}
	return o
}

// lineAt returns the line of the byte at offset off.
func (r *dotnetReader) lineAt(off int64) int {
	if off > int64(len(r.data)) {
		off = int64(len(r.data))
	}
	return 1 + bytes.Count(r.data[:max(off, 0)], []byte("\n"))
}
