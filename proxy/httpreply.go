package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// maxReplyHeader bounds the status line and header fields of an HTTP
// proxy's reply; a larger reply is an error.
const maxReplyHeader = 16 << 10

// httpReply is the status and header of an HTTP proxy's reply to CONNECT.
type httpReply struct {
	status int         // the status code, such as 200 or 407
	reason string      // the reason phrase, such as "Connection established"
	header http.Header // the header fields
}

// readHTTPReply reads the reply header from r, at most maxReplyHeader bytes,
// and returns it with the bytes that came after it in the same reads: the
// start of the tunnelled stream, which must not be lost.
func readHTTPReply(r io.Reader) (*httpReply, []byte, error) {
	br := bufio.NewReaderSize(r, maxReplyHeader)
	var reply *httpReply
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if total > maxReplyHeader || errors.Is(err, bufio.ErrBufferFull) {
			return nil, nil, fmt.Errorf("%w: the reply header is larger than %d KiB", ErrProtocol, maxReplyHeader>>10)
		}
		if closedEarly(err) {
			return nil, nil, errClosedEarly
		}
		if err != nil {
			return nil, nil, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if reply == nil {
			if reply, err = parseStatusLine(string(line)); err != nil {
				return nil, nil, err
			}
			continue
		}
		if len(line) == 0 {
			break
		}
		if err := reply.addField(string(line)); err != nil {
			return nil, nil, err
		}
	}
	rest, _ := br.Peek(br.Buffered())
	return reply, bytes.Clone(rest), nil
}

// parseStatusLine parses "HTTP/1.1 200 Connection established".
func parseStatusLine(line string) (*httpReply, error) {
	version, rest, _ := strings.Cut(line, " ")
	if version != "HTTP/1.1" && version != "HTTP/1.0" {
		return nil, fmt.Errorf("%w: the reply does not start with an HTTP/1.x status line: %s "+
			"(is this an HTTP proxy?)", ErrProtocol, quote(line))
	}
	codeText, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeText)
	if len(codeText) != 3 || err != nil || code < 100 {
		return nil, fmt.Errorf("%w: the status line has no 3-digit status code: %s", ErrProtocol, quote(line))
	}
	return &httpReply{status: code, reason: reason, header: http.Header{}}, nil
}

// addField parses a "Name: value" header line into the reply's header.
func (r *httpReply) addField(line string) error {
	name, value, ok := strings.Cut(line, ":")
	if !ok || !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("%w: malformed header field in the reply: %s", ErrProtocol, quote(line))
	}
	r.header.Add(name, strings.TrimSpace(value))
	return nil
}

// httpStatusError returns nil for a 2xx reply, or an error saying what the
// status means. sentCredentials tells an auth failure from a missing login.
func httpStatusError(r *httpReply, sentCredentials bool) error {
	status := fmt.Sprintf("HTTP %d %s", r.status, quote(r.reason))
	switch {
	case r.status >= 200 && r.status <= 299:
		return nil
	case r.status == http.StatusProxyAuthRequired || r.status == http.StatusUnauthorized:
		offers := authSchemes(r.header)
		if sentCredentials {
			return fmt.Errorf("%w: %s%s: check the user name and password", ErrAuthFailed, status, offers)
		}
		return fmt.Errorf("%w: %s%s: put user:password in the proxy URL, or set Username and Password",
			ErrAuthRequired, status, offers)
	case r.status == http.StatusForbidden:
		return fmt.Errorf("%w: the proxy forbids a tunnel to this target (%s): "+
			"many proxies allow CONNECT only to port 443; ask its administrator to allow this port", ErrRefused, status)
	case r.status == http.StatusBadGateway || r.status == http.StatusServiceUnavailable || r.status == http.StatusGatewayTimeout:
		return fmt.Errorf("%w: the proxy could not reach the target (%s): "+
			"check the host and port, and that the proxy can reach them", ErrRefused, status)
	default:
		return fmt.Errorf("%w: the proxy did not open a tunnel (%s): does it support CONNECT?", ErrRefused, status)
	}
}

// authSchemes lists the authentication schemes the proxy offers, such as
// "; the proxy offers Basic, NTLM", or returns "" when it names none.
func authSchemes(h http.Header) string {
	var schemes []string
	for _, v := range h.Values("Proxy-Authenticate") {
		scheme, _, _ := strings.Cut(v, " ")
		if httpguts.ValidHeaderFieldName(scheme) { // a token: safe to print
			schemes = append(schemes, scheme)
		}
	}
	if len(schemes) == 0 {
		return ""
	}
	return "; the proxy offers " + strings.Join(schemes, ", ")
}
