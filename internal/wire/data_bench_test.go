package wire

import (
	"io"
	"strings"
	"testing"
)

// BenchmarkDataWriter measures dot-stuffing and normalisation of a typical
// message: 76-column lines, CRLF endings, a few dot lines.
func BenchmarkDataWriter(b *testing.B) {
	line := strings.Repeat("x", 74) + "\r\n"
	msg := []byte(strings.Repeat(line, 100) + ".dot line\r\n" + strings.Repeat(line, 100))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDataWriter(io.Discard)
		d.Write(msg)
		d.Close()
	}
}

// BenchmarkDataWriterBareLF measures the same message with bare LF endings,
// each of which is rewritten.
func BenchmarkDataWriterBareLF(b *testing.B) {
	line := strings.Repeat("x", 75) + "\n"
	msg := []byte(strings.Repeat(line, 200))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDataWriter(io.Discard)
		d.Write(msg)
		d.Close()
	}
}
