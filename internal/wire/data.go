package wire

import (
	"bytes"
	"io"
)

// DataWriter writes message data as SMTP needs it: every bare CR and bare LF
// becomes CRLF and, for DATA, a dot at the start of a line is doubled
// (RFC 5321 4.5.2). Close ends the data with exactly one CRLF, and for DATA
// the terminating ".", so the end of the data can never be ambiguous (the
// SMTP smuggling attacks of 2023 lived in that ambiguity).
type DataWriter struct {
	w         io.Writer
	stuff     bool // dot-stuff and terminate with ".": DATA rather than BDAT
	lineStart bool // the next byte starts a line
	pendingCR bool // a CR was read and its LF, if any, not yet seen
	buf       []byte
	n         int64 // bytes written to w
}

// NewDataWriter returns a writer for the body of a DATA command: normalised,
// dot-stuffed, and terminated by Close.
func NewDataWriter(w io.Writer) *DataWriter {
	return &DataWriter{w: w, stuff: true, lineStart: true}
}

// NewNormalizer returns a writer that only normalises line endings, and
// whose Close makes sure the data ends with CRLF: what BDAT needs.
func NewNormalizer(w io.Writer) *DataWriter {
	return &DataWriter{w: w, lineStart: true}
}

// Reset makes d write a new message to w, keeping its kind and its buffer.
func (d *DataWriter) Reset(w io.Writer) {
	d.w, d.lineStart, d.pendingCR, d.n = w, true, false, 0
}

// Written returns how many bytes went to the underlying writer.
func (d *DataWriter) Written() int64 { return d.n }

// Write normalises p and writes it to the underlying writer.
func (d *DataWriter) Write(p []byte) (int, error) {
	n := len(p)
	out := d.buf[:0]
	for len(p) > 0 {
		if d.pendingCR {
			d.pendingCR = false
			out = append(out, '\r', '\n')
			d.lineStart = true
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		if d.lineStart && d.stuff && p[0] == '.' {
			out = append(out, '.')
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			out = append(out, p...)
			d.lineStart = false
			break
		}
		out = append(out, p[:i]...)
		if p[i] == '\r' {
			d.pendingCR = true
		} else {
			out = append(out, '\r', '\n')
			d.lineStart = true
			p = p[i+1:]
			continue
		}
		d.lineStart = false
		p = p[i+1:]
	}
	d.buf = out
	if err := d.write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// Close ends the last line with CRLF when it has none and, for DATA,
// writes the terminating ".". It does not close the underlying writer.
func (d *DataWriter) Close() error {
	out := d.buf[:0]
	if d.pendingCR {
		d.pendingCR = false
		out = append(out, '\r', '\n')
		d.lineStart = true
	}
	if !d.lineStart {
		out = append(out, '\r', '\n')
		d.lineStart = true
	}
	if d.stuff {
		out = append(out, '.', '\r', '\n')
	}
	return d.write(out)
}

func (d *DataWriter) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := d.w.Write(b)
	d.n += int64(n)
	return err
}
