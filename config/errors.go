package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Origin says where a setting was read: the file (or "environment", "URL"),
// the line in it, and the key as written there.
type Origin struct {
	// File is the file's name as given to the loader, or "environment",
	// "URL" or another name for a source that is not a file.
	File string
	// Line is the line in File, counted from 1; 0 when there is none.
	Line int
	// Column is the column in Line, counted from 1 in bytes; 0 when it
	// is not known (it is for syntax errors).
	Column int
	// Key is the key as written in the source, such as "port",
	// "SMTPKIT_PORT" or "enableSsl"; empty for a whole account.
	Key string
}

// String returns the origin as "file:line:column: key", leaving out what is unknown.
func (o Origin) String() string {
	var b strings.Builder
	b.WriteString(o.File)
	o.writePosition(&b)
	if o.Key != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString("key " + strconv.Quote(o.Key))
	}
	return b.String()
}

// Error is a problem with a setting; it names the file, the line, the
// account and the key, and its Err says what is wrong and what to do.
type Error struct {
	Origin
	// Account is the name of the account the setting belongs to, "" for
	// defaults or settings outside any account.
	Account string
	// Err says what is wrong and what to do about it.
	Err error
}

// writePosition writes ":line" or ":line:column", or nothing when the line is unknown.
func (o Origin) writePosition(b *strings.Builder) {
	if o.Line > 0 {
		b.WriteString(":" + strconv.Itoa(o.Line))
		if o.Column > 0 {
			b.WriteString(":" + strconv.Itoa(o.Column))
		}
	}
}

// Error returns "file:line[:column]: account "name": key "key": what is wrong".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	e.writePosition(&b)
	if e.Account != "" {
		b.WriteString(": account " + strconv.Quote(e.Account))
	}
	if e.Key != "" {
		b.WriteString(": key " + strconv.Quote(e.Key))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Warning is a setting that was accepted but has no effect, or works
// differently than in the program the file was written for.
type Warning struct {
	Origin
	// Account is the name of the account the setting belongs to, if any.
	Account string
	// Message says what happens instead.
	Message string
}

// String returns the warning as "file:line: account "name": key "key": message".
func (w Warning) String() string {
	e := Error{Origin: w.Origin, Account: w.Account}
	return e.Error() + w.Message
}

// errorList collects the errors of one file, up to a limit.
type errorList struct {
	errs []error
}

// maxErrors bounds the errors one file reports.
const maxErrors = 20

func (l *errorList) add(o Origin, account string, format string, args ...any) {
	l.addErr(&Error{Origin: o, Account: account, Err: fmt.Errorf(format, args...)})
}

func (l *errorList) addErr(err error) {
	l.errs = append(l.errs, err)
}

// full reports whether reading on would only find errors no one will see.
func (l *errorList) full() bool { return len(l.errs) >= maxErrors }

// err returns nil, the only error, or all of them joined one a line.
func (l *errorList) err() error {
	switch len(l.errs) {
	case 0:
		return nil
	case 1:
		return l.errs[0]
	}
	errs := l.errs
	if len(errs) >= maxErrors {
		errs = append(errs[:maxErrors:maxErrors], errors.New("and perhaps more errors after these: fix these first"))
	}
	return joinedError(errs)
}

// joinedError is several errors, one a line; errors.As and errors.Is see each.
type joinedError []error

func (j joinedError) Error() string {
	s := make([]string, len(j))
	for i, e := range j {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (j joinedError) Unwrap() []error { return j }

// showValue quotes a value for a message, or describes it when quoting it
// would spread it over lines or make the message hard to read. Secrets are
// never passed to it.
func showValue(s string) string {
	if len(s) > 80 || strings.ContainsAny(s, "\r\n") {
		return "(a value of " + strconv.Itoa(len(s)) + " bytes, not shown)"
	}
	return strconv.Quote(s)
}

// closest returns the candidate nearest to s by edit distance, if it is near.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	ls := strings.ToLower(s)
	for _, c := range candidates {
		if d := editDistance(ls, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean returns " (did you mean "x"?)" for the nearest candidate, or "".
func didYouMean(s string, candidates []string) string {
	if c := closest(s, candidates); c != "" {
		return " (did you mean " + strconv.Quote(c) + "?)"
	}
	return ""
}

// editDistance is the optimal string alignment distance of a and b: the
// edits (insertions, deletions, substitutions, swaps of neighbours) that
// turn one into the other. Long strings are not compared.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
