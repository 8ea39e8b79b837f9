package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// fileMessage reads the header of the message that open opens (again from
// the start when the message is sent) and returns the message with its
// envelope, the Bcc field removed.
func fileMessage(source string, rule envelope, open func() (io.ReadCloser, error)) *message {
	m := &message{source: source}
	r, err := open()
	if err != nil {
		m.err = inputError{err}
		return m
	}
	h, err := readHeader(bufio.NewReader(r))
	r.Close()
	if err != nil {
		m.err = fmt.Errorf("%s: %w", source, err)
		if !errors.As(err, new(messageError)) {
			m.err = inputError{m.err}
		}
		return m
	}
	env, err := rule.of(h)
	if err != nil {
		m.err = err
		return m
	}
	h.DelBcc()
	m.env = env
	m.r = &lazyMessage{head: h.Bytes(), open: open, skip: h.ReadLen()}
	return m
}

// dirMessages returns the messages of the *.eml files of dir, in the order of their names.
func dirMessages(dir string, rule envelope) ([]*message, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, inputError{fmt.Errorf("--dir: %w", err)}
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".eml") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, inputError{fmt.Errorf("--dir: %s holds no *.eml file", dir)}
	}
	sort.Strings(names)
	out := make([]*message, 0, len(names))
	for _, name := range names {
		path := filepath.Join(dir, name)
		open := func() (io.ReadCloser, error) { return os.Open(path) }
		m := fileMessage(name, rule, open)
		if m.err == nil {
			if info, err := os.Stat(path); err == nil {
				m.env.Size = info.Size() - m.r.(*lazyMessage).skip + int64(len(m.r.(*lazyMessage).head))
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// mboxMessages splits the mbox file f into its messages: each starts with
// a "From SENDER DATE" line at the start of the file or after a blank line, and its
// lines that start with ">From ", ">>From " and so on lose one ">"
// (mboxrd; mboxo's "From " lines escaped as ">From " come out right too).
// The messages are read from f when they are sent, so f must stay open.
func mboxMessages(f *os.File, rule envelope) ([]*message, error) {
	type span struct{ start, end int64 }
	var spans []span
	br := bufio.NewReaderSize(f, 64<<10)
	var (
		off       int64
		atStart   = true // at the start of a line
		prevBlank = true // the previous line was blank (or there was none)
		blankLen  int64  // the length of that blank line
		cur       = -1   // the message being read, -1 before the first
	)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			lineStart := atStart
			if lineStart && prevBlank && isFromLine(line) {
				if cur >= 0 {
					spans[cur].end = off - blankLen
				}
				spans = append(spans, span{start: off + int64(len(line))})
				cur = len(spans) - 1
				if !bytes.HasSuffix(line, []byte("\n")) {
					lineStart = false
				}
			} else if cur < 0 && lineStart && len(bytes.TrimSpace(line)) > 0 {
				return nil, messageError{fmt.Errorf("--mbox %s: not an mbox file: it does not start with a \"From \" line", f.Name())}
			}
			blank := lineStart && len(bytes.TrimRight(line, "\r\n")) == 0 && bytes.HasSuffix(line, []byte("\n"))
			prevBlank, blankLen = blank, int64(len(line))
			if !blank {
				blankLen = 0
			}
			off += int64(len(line))
			atStart = bytes.HasSuffix(line, []byte("\n"))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, inputError{fmt.Errorf("--mbox: %w", err)}
		}
	}
	if cur < 0 {
		return nil, inputError{fmt.Errorf("--mbox %s: no message", f.Name())}
	}
	spans[cur].end = off - blankLen
	out := make([]*message, 0, len(spans))
	for i, s := range spans {
		s.end = max(s.end, s.start)
		open := func() (io.ReadCloser, error) {
			return io.NopCloser(newUnescaper(io.NewSectionReader(f, s.start, s.end-s.start))), nil
		}
		m := fileMessage(fmt.Sprintf("message %d", i+1), rule, open)
		if m.err == nil {
			lm := m.r.(*lazyMessage)
			m.env.Size = s.end - s.start - lm.skip + int64(len(lm.head))
		}
		out = append(out, m)
	}
	return out, nil
}

// isFromLine reports whether line starts a message of an mbox: "From ",
// the sender, and a date with its time, as in
// "From alice@example.com Thu Jan  1 00:00:00 2026" (so that an unescaped
// "From here on..." in a body does not split it).
func isFromLine(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("From ")) {
		return false
	}
	fields := strings.Fields(string(line[5:]))
	if len(fields) < 3 {
		return false
	}
	for _, f := range fields[1:] {
		hh, rest, ok := strings.Cut(f, ":")
		mm, _, _ := strings.Cut(rest, ":")
		if ok && len(hh) >= 1 && len(hh) <= 2 && len(mm) == 2 && allDigits(hh) && allDigits(mm) {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// unescaper removes one ">" from lines that start with ">From ",
// ">>From " and so on, as mboxrd escapes them.
type unescaper struct {
	br      *bufio.Reader
	buf     []byte
	atStart bool
	err     error
}

func newUnescaper(r io.Reader) *unescaper {
	return &unescaper{br: bufio.NewReader(r), atStart: true}
}

func (u *unescaper) Read(p []byte) (int, error) {
	for len(u.buf) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		line, err := u.br.ReadSlice('\n')
		if u.atStart && len(line) > 0 && line[0] == '>' {
			if rest := bytes.TrimLeft(line, ">"); bytes.HasPrefix(rest, []byte("From ")) {
				line = line[1:]
			}
		}
		u.atStart = len(line) > 0 && line[len(line)-1] == '\n'
		u.buf = append(u.buf[:0], line...)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			u.err = err
		}
	}
	n := copy(p, u.buf)
	u.buf = u.buf[n:]
	return n, nil
}
