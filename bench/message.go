package main

import (
	"fmt"
	"io"
	"strings"
)

const (
	benchFrom = "sender@example.org"
	benchTo   = "rcpt@example.net"
	// lineWidth is the number of characters of every generated body line,
	// the CRLF not counted.
	lineWidth = 76
)

// bodyLine is one generated body line with its CRLF.
var bodyLine = func() []byte {
	b := make([]byte, 0, lineWidth+2)
	for i := range lineWidth {
		b = append(b, "abcdefghijklmnopqrstuvwxyz0123456789"[i%36])
	}
	return append(b, '\r', '\n')
}()

// header returns the header block of a benchmark message, blank line included.
func header(subject string) string {
	return "From: Bench <" + benchFrom + ">\r\n" +
		"To: <" + benchTo + ">\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <bench@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n" +
		"\r\n"
}

// smallBody returns body lines adding up to about size bytes with hdr.
func smallBody(hdr string, size int) string {
	var b strings.Builder
	for b.Len()+len(hdr)+len(bodyLine) <= size {
		b.Write(bodyLine)
	}
	return b.String()
}

// smallMessage returns a complete message of about size bytes (at most size).
func smallMessage(size int) []byte {
	h := header("benchmark message")
	return []byte(h + smallBody(h, size))
}

// lineReader generates a message of 76-column lines on the fly: it holds
// one line, never the message.
type lineReader struct {
	hdr  string // still to be read
	left int64  // body bytes still to be read
	pos  int    // position within bodyLine
}

// newBigMessage returns a reader of a message of at most size bytes: a
// header, then as many whole body lines as fit.
func newBigMessage(size int64) (io.Reader, int64) {
	h := header(fmt.Sprintf("generated message of %d bytes", size))
	lines := (size - int64(len(h))) / int64(len(bodyLine))
	body := lines * int64(len(bodyLine))
	return &lineReader{hdr: h, left: body}, int64(len(h)) + body
}

func (r *lineReader) Read(p []byte) (int, error) {
	n := 0
	if r.hdr != "" {
		c := copy(p, r.hdr)
		r.hdr = r.hdr[c:]
		n += c
	}
	for n < len(p) && r.left > 0 {
		chunk := bodyLine[r.pos:]
		if int64(len(chunk)) > r.left {
			chunk = chunk[:r.left]
		}
		c := copy(p[n:], chunk)
		n += c
		r.left -= int64(c)
		r.pos = (r.pos + c) % len(bodyLine)
	}
	if n == 0 && r.left == 0 {
		return 0, io.EOF
	}
	return n, nil
}
