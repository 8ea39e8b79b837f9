package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
)

// warnHandler is the slog.Handler of the library's log on the command
// line: a record is one line, "smtpkit: warning: what happened (key=value
// ...)", as the command's own warnings read, without time or level keys.
type warnHandler struct {
	mu     *sync.Mutex
	w      io.Writer
	attrs  []slog.Attr // from WithAttrs, keys already qualified by their groups
	prefix string      // the groups of WithGroup, each followed by "."
}

func newWarnHandler(w io.Writer) *warnHandler { return &warnHandler{mu: new(sync.Mutex), w: w} }

// Enabled leaves out debug records, as slog's own handlers do by default.
func (h *warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

// Handle prints the record on one line.
func (h *warnHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("smtpkit: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	// The library's messages name it, as its errors do: said once is enough.
	b.WriteString(strings.TrimPrefix(r.Message, "smtpkit: "))
	var pairs []string
	for _, a := range h.attrs {
		pairs = appendAttr(pairs, "", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		pairs = appendAttr(pairs, h.prefix, a)
		return true
	})
	if len(pairs) > 0 {
		b.WriteString(" (" + strings.Join(pairs, " ") + ")")
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// appendAttr appends a as key=value pairs, a group's members as group.key=value.
func appendAttr(pairs []string, prefix string, a slog.Attr) []string {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return pairs
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			pairs = appendAttr(pairs, prefix, g)
		}
		return pairs
	}
	var v string
	switch x := a.Value.Any().(type) {
	case error:
		v = describe(x)
	case fmt.Stringer:
		v = x.String()
	default:
		v = a.Value.String()
	}
	if v == "" || strings.ContainsAny(v, " \t\"=()") || strconv.Quote(v) != `"`+v+`"` {
		v = strconv.Quote(v)
	}
	return append(pairs, prefix+a.Key+"="+v)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *warnHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		if h.prefix != "" {
			a = slog.Attr{Key: strings.TrimSuffix(h.prefix, "."), Value: slog.GroupValue(a)}
		}
		h2.attrs = append(h2.attrs, a)
	}
	return &h2
}

// WithGroup returns a handler that puts the later attributes in the group name.
func (h *warnHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix += name + "."
	return &h2
}
