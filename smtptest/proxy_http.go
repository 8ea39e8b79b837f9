package smtptest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// serveHTTP answers one CONNECT request; a granted one is relayed.
func serveHTTP(p *Proxy, c net.Conn, r *bufio.Reader) {
	hr, err := http.ReadRequest(r)
	if err != nil {
		return
	}
	if hr.Method != http.MethodConnect {
		httpReply(c, http.StatusMethodNotAllowed, "")
		return
	}
	req := ProxyRequest{Target: hr.Host, Client: c.RemoteAddr().String()}
	req.Username, req.Password, _ = basicAuth(hr.Header.Get("Proxy-Authorization"))
	status := http.StatusOK
	var target net.Conn
	switch {
	case p.cfg.Username != "" && (req.Username != p.cfg.Username || req.Password != p.cfg.Password):
		status = http.StatusProxyAuthRequired
	case p.cfg.Refuse:
		status = http.StatusForbidden
	default:
		if target, err = p.dialTarget(req.Target); err != nil {
			status = http.StatusBadGateway
		}
	}
	req.Granted = status == http.StatusOK
	p.record(req)
	header := ""
	if status == http.StatusProxyAuthRequired {
		header = "Proxy-Authenticate: Basic realm=\"smtptest\"\r\n"
	}
	if err := httpReply(c, status, header); err != nil || target == nil {
		if target != nil {
			p.closeTarget(target)
		}
		return
	}
	p.relay(c, r, target)
}

// basicAuth decodes a Proxy-Authorization header of the Basic scheme.
func basicAuth(header string) (user, pass string, ok bool) {
	// http.Request.BasicAuth reads Authorization; Proxy-Authorization has the same form.
	r := http.Request{Header: http.Header{"Authorization": {header}}}
	return r.BasicAuth()
}

// httpReply sends a status line and the header lines given; a refusal has
// an empty body, and after a 200 the tunnel starts.
func httpReply(c net.Conn, status int, header string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n%s", status, http.StatusText(status), header)
	if status != http.StatusOK {
		b.WriteString("Content-Length: 0\r\n")
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(c, b.String())
	return err
}
