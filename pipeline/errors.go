package pipeline

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one mistake in a pipeline file: where it is (file, line, and
// the path of the key, e.g. "steps[2].window.size") and what to change.
type Error struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int
	Path   string // e.g. "checkpoints.interval"; empty for the document
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrInvalid is wrapped by every error of Load, Parse and Build that is a
// mistake in the pipeline (as opposed to an I/O error).
var ErrInvalid = errors.New("invalid pipeline")

// Errors is the list of mistakes found in a pipeline file, in the order
// of the file. Its Error lists them one per line.
type Errors []*Error

func (l Errors) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (l Errors) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the single errors.
func (l Errors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// maxErrors bounds how many mistakes one Load reports.
const maxErrors = 20

// errs collects mistakes while decoding.
type errs struct {
	list Errors
}

func (c *errs) add(file string, n *node, path, format string, args ...any) {
	if len(c.list) >= maxErrors {
		return
	}
	e := &Error{File: file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.line, n.col
		if n.file != "" {
			e.File = n.file
		}
	}
	c.list = append(c.list, e)
}

func (c *errs) err() error {
	if len(c.list) == 0 {
		return nil
	}
	return c.list
}
