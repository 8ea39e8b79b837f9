package message_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
)

// leaf is a part of a parsed message that is not multipart.
type leaf struct {
	path     string // the media types from the top, such as "multipart/mixed/text/plain"
	header   textproto.MIMEHeader
	body     []byte // decoded
	raw      []byte // as written
	filename string // decoded
	name     string // Content-Type's name, decoded
}

// parse reads a message as a mail reader would, with net/mail and
// mime/multipart, and returns its header and leaves.
func parse(t *testing.T, data []byte) (mail.Header, []leaf) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("net/mail cannot read the message: %v\n%s", err, data)
	}
	var leaves []leaf
	walk(t, "", textproto.MIMEHeader(m.Header), m.Body, &leaves)
	return m.Header, leaves
}

func walk(t *testing.T, path string, h textproto.MIMEHeader, body io.Reader, out *[]leaf) {
	t.Helper()
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		t.Fatalf("%s: Content-Type %q: %v", path, ct, err)
	}
	path += "/" + mt
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			walk(t, path, p.Header, p, out)
		}
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []byte
	switch cte := h.Get("Content-Transfer-Encoding"); strings.ToLower(cte) {
	case "base64":
		for _, line := range strings.Split(strings.TrimRight(string(raw), "\r\n"), "\r\n") {
			if len(line) > 76 {
				t.Errorf("%s: a base64 line of %d characters", path, len(line))
			}
		}
		decoded, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(raw), "\r\n", ""))
	case "quoted-printable":
		decoded, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	case "7bit", "8bit", "":
		decoded = raw
	default:
		t.Fatalf("%s: Content-Transfer-Encoding %q", path, cte)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	l := leaf{path: strings.TrimPrefix(path, "/"), header: h, body: decoded, raw: raw}
	if d := h.Get("Content-Disposition"); d != "" {
		_, dp, err := mime.ParseMediaType(d)
		if err != nil {
			t.Fatalf("%s: Content-Disposition %q: %v", path, d, err)
		}
		l.filename = dp["filename"]
	}
	if l.name, err = new(mime.WordDecoder).DecodeHeader(params["name"]); err != nil {
		t.Fatalf("%s: name %q: %v", path, params["name"], err)
	}
	*out = append(*out, l)
}

// decodeHeader decodes a header field's RFC 2047 words.
func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("%q: %v", v, err)
	}
	return s
}
