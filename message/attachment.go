package message

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
)

// Attachment is a part of a Message read from a file or a reader: an
// attachment, or an inline part that the HTML body shows by its ContentID.
// Make one with FileAttachment or ReaderAttachment.
type Attachment struct {
	// Name is the file name the recipient sees, in UTF-8 (RFC 2231 in
	// Content-Disposition, RFC 2047 in Content-Type's name, as mail
	// programs expect); empty for none.
	Name string
	// ContentType is the media type, such as "application/pdf"; empty means
	// the one of Name's extension, else application/octet-stream. A type
	// that cannot travel in base64 (multipart/*, message/* other than
	// message/rfc822 and message/global) goes as application/octet-stream;
	// so does message/rfc822 when its content cannot go as 7bit or 8bit.
	ContentType string
	// ContentID, when set, makes the part inline: the HTML body shows it
	// as <img src="cid:ContentID">. Give it without angle brackets, such
	// as "logo" or "logo@example.com".
	ContentID string

	src source
}

// FileAttachment returns an attachment of the file at path, named after
// its last element. The file is opened each time the message is written.
func FileAttachment(path string) *Attachment {
	return &Attachment{Name: filepath.Base(path), src: fileSource(path)}
}

// ReaderAttachment returns an attachment named name whose content is read
// from r when the message is written. A message with it can be written
// again only when r is an io.Seeker (such as *os.File, bytes.Reader or
// strings.Reader): it is rewound to where it stood when given.
func ReaderAttachment(name string, r io.Reader) *Attachment {
	src := &readerSource{r: r, name: name}
	if s, ok := r.(io.Seeker); ok {
		if pos, err := s.Seek(0, io.SeekCurrent); err == nil {
			src.seeker, src.start = s, pos
		}
	}
	return &Attachment{Name: name, src: src}
}

// source is where an attachment's content comes from.
type source interface {
	open() (io.ReadCloser, error)
	// length returns the content's length, -1 when it is unknown
	// without reading it; it fails when the content cannot be read.
	length() (int64, error)
	// again reports whether the content can be read more than once.
	again() bool
}

type fileSource string

func (f fileSource) open() (io.ReadCloser, error) { return os.Open(string(f)) }

func (f fileSource) length() (int64, error) {
	fh, err := os.Open(string(f))
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return 0, err
	}
	if !info.Mode().IsRegular() {
		return -1, nil
	}
	return info.Size(), nil
}

func (f fileSource) again() bool {
	info, err := os.Stat(string(f))
	return err == nil && info.Mode().IsRegular()
}

type readerSource struct {
	r      io.Reader
	name   string
	seeker io.Seeker // r as a Seeker, when it is one
	start  int64     // where the seeker stood
	used   bool
}

func (s *readerSource) open() (io.ReadCloser, error) {
	if s.seeker != nil {
		if _, err := s.seeker.Seek(s.start, io.SeekStart); err != nil {
			return nil, err
		}
		return io.NopCloser(s.r), nil
	}
	if s.used {
		return nil, fmt.Errorf("the reader of attachment %q was read already: give an io.Seeker, or a file, to write a message twice", s.name)
	}
	s.used = true
	return io.NopCloser(s.r), nil
}

func (s *readerSource) length() (int64, error) {
	if s.seeker != nil {
		end, err := s.seeker.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, err
		}
		if _, err := s.seeker.Seek(s.start, io.SeekStart); err != nil {
			return 0, err
		}
		return end - s.start, nil
	}
	if l, ok := s.r.(interface{ Len() int }); ok && !s.used {
		return int64(l.Len()), nil
	}
	return -1, nil
}

func (s *readerSource) again() bool { return s.seeker != nil }

// plan is how an attachment is written.
type plan struct {
	mediaType string            // such as "image/png"
	params    map[string]string // the media type's own parameters, name excluded
	cte       string            // base64, 7bit or 8bit
	size      int64             // bytes of the encoded content; -1 unknown
}

// typeByExtension returns the media type of a file name's extension.
func typeByExtension(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	if ext == ".eml" {
		return "message/rfc822" // not in every system's table
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// check refuses what cannot be written, before anything is.
func (a *Attachment) check(i int) error {
	if a == nil || a.src == nil {
		return fmt.Errorf("Message.Attachments[%d] has no content: make it with FileAttachment or ReaderAttachment", i)
	}
	if j := strings.IndexAny(a.Name, "\r\n\x00"); j >= 0 {
		return fmt.Errorf("attachment name %q holds %q: CR, LF and NUL are not allowed", a.Name, a.Name[j])
	}
	id := a.ContentID
	for j := 0; j < len(id); j++ {
		if c := id[j]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '(' || c == ')' {
			return fmt.Errorf("attachment %q: ContentID %q holds %q: give printable ASCII without spaces, quotes, brackets or parentheses", a.Name, id, c)
		}
	}
	return nil
}

// plan decides the attachment's media type and encoding. An attached
// message is read to choose between 7bit, 8bit and application/octet-stream.
func (a *Attachment) plan(eightBit, measure bool) (plan, error) {
	ct := a.ContentType
	if ct == "" {
		ct = typeByExtension(a.Name)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return plan{}, fmt.Errorf("attachment %q: ContentType %q: %v", a.Name, ct, err)
	}
	delete(params, "name")
	p := plan{mediaType: mt, params: params, cte: "base64"}
	switch {
	case mt == "message/rfc822" && a.src.again():
		r, err := a.src.open()
		if err != nil {
			return plan{}, fmt.Errorf("attachment %q: %w", a.Name, err)
		}
		st, err := copyLines(nil, r)
		r.Close()
		if err != nil {
			return plan{}, fmt.Errorf("attachment %q: %w", a.Name, err)
		}
		if cte := st.encoding(eightBit); cte != "" {
			p.cte, p.size = cte, st.n
			return p, nil
		}
		p.mediaType, p.params = "application/octet-stream", nil
	case mt == "message/global" || strings.HasPrefix(mt, "message/global-"):
	case strings.HasPrefix(mt, "message/") || strings.HasPrefix(mt, "multipart/"):
		p.mediaType, p.params = "application/octet-stream", nil
	}
	if !measure {
		return p, nil
	}
	n, err := a.src.length()
	if err != nil {
		return plan{}, fmt.Errorf("attachment %q: %w", a.Name, err)
	}
	p.size = base64Len(n)
	return p, nil
}

// header returns the part's header fields.
func (a *Attachment) header(p plan) [][2]string {
	name := strings.ToValidUTF8(a.Name, "\uFFFD")
	ctype := mediaType(p.mediaType, p.params)
	if name != "" {
		if !needsEncoding(name) && isASCII(name) {
			ctype = mediaType(p.mediaType, withParam(p.params, "name", name))
		} else {
			// RFC 2047 inside a quoted string: not what RFC 2047 allows,
			// but what mail programs that predate RFC 2231 read.
			ctype += `; name="` + bWords(name) + `"`
		}
	}
	disposition := "attachment"
	if a.ContentID != "" {
		disposition = "inline"
	}
	if name != "" {
		disposition = mediaType(disposition, map[string]string{"filename": name})
	}
	h := [][2]string{{"Content-Type", ctype}, {"Content-Disposition", disposition}}
	if a.ContentID != "" {
		h = append(h, [2]string{"Content-ID", "<" + a.ContentID + ">"})
	}
	return append(h, [2]string{"Content-Transfer-Encoding", p.cte})
}

func withParam(params map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(params)+1)
	for pk, pv := range params {
		out[pk] = pv
	}
	out[k] = v
	return out
}

// write writes the attachment's content as p says.
func (a *Attachment) write(w io.Writer, p plan, eightBit bool, buf *buffers) error {
	r, err := a.src.open()
	if err != nil {
		return fmt.Errorf("attachment %q: %w", a.Name, err)
	}
	defer r.Close()
	if p.cte == "base64" {
		if err := writeBase64(w, r, buf); err != nil {
			return fmt.Errorf("attachment %q: %w", a.Name, err)
		}
		return nil
	}
	st, err := copyLines(w, r)
	if err != nil {
		return fmt.Errorf("attachment %q: %w", a.Name, err)
	}
	if cte := st.encoding(eightBit); cte == "" || cte == "8bit" && p.cte == "7bit" || st.n != p.size {
		return fmt.Errorf("attachment %q changed while the message was written", a.Name)
	}
	return nil
}

// Base64 lines of 76 characters, each of 57 bytes of content.
const (
	b64In    = 57
	b64Lines = 512 // lines encoded at once
)

// buffers are the buffers of one write, reused by every attachment.
type buffers struct {
	in, out []byte
}

func newBuffers() *buffers {
	return &buffers{in: make([]byte, b64In*b64Lines), out: make([]byte, b64Lines*78)}
}

// base64Len returns the length of n bytes in base64 in lines of 76
// characters ended by CRLF; -1 for -1.
func base64Len(n int64) int64 {
	if n < 0 {
		return -1
	}
	full, rest := n/b64In, n%b64In
	size := full * 78
	if rest > 0 {
		size += (rest+2)/3*4 + 2
	}
	return size
}

// writeBase64 writes r to w in base64, in lines of 76 characters.
func writeBase64(w io.Writer, r io.Reader, buf *buffers) error {
	for {
		n, err := io.ReadFull(r, buf.in)
		if n > 0 {
			o := 0
			for i := 0; i < n; i += b64In {
				line := buf.in[i:min(i+b64In, n)]
				base64.StdEncoding.Encode(buf.out[o:], line)
				o += base64.StdEncoding.EncodedLen(len(line))
				buf.out[o], buf.out[o+1] = '\r', '\n'
				o += 2
			}
			if _, werr := w.Write(buf.out[:o]); werr != nil {
				return werr
			}
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return err
		}
	}
}

// lineStats is what copyLines saw.
type lineStats struct {
	n     int64 // bytes written
	long  bool  // a line longer than 998 bytes
	nul   bool  // a NUL byte
	eight bool  // a byte of 0x80 or more
}

// encoding returns the Content-Transfer-Encoding content with these
// stats can have unchanged: 7bit, 8bit (when eightBit allows it), or ""
// when it cannot go as either.
func (s lineStats) encoding(eightBit bool) string {
	switch {
	case s.long || s.nul:
		return ""
	case !s.eight:
		return "7bit"
	case eightBit:
		return "8bit"
	}
	return ""
}

// copyLines copies r to w with every line ending (CR, LF or CRLF) made
// CRLF; a nil w only counts.
func copyLines(w io.Writer, r io.Reader) (lineStats, error) {
	var st lineStats
	in := make([]byte, 32<<10)
	out := make([]byte, 0, 2*len(in))
	col, cr := 0, false
	for {
		n, err := r.Read(in)
		for _, c := range in[:n] {
			switch {
			case c == '\n' && cr:
				cr = false
				continue
			case c == '\r' || c == '\n':
				out = append(out, '\r', '\n')
				cr, col = c == '\r', 0
				continue
			case c == 0:
				st.nul = true
			case c >= 0x80:
				st.eight = true
			}
			cr = false
			out = append(out, c)
			if col++; col > maxLine {
				st.long = true
			}
		}
		st.n += int64(len(out))
		if w != nil && len(out) > 0 {
			if _, werr := w.Write(out); werr != nil {
				return st, werr
			}
		}
		out = out[:0]
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, err
		}
	}
}
