package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
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
// of the file (line, then column; mistakes in --set overrides first). Its
// Error lists them one per line.
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

// maxErrors bounds how many mistakes one Load reports: the first ones in
// the order of the file.
const maxErrors = 20

// maxCollected bounds how many mistakes are collected before they are
// sorted and cut to maxErrors.
const maxCollected = 1000

// errs collects mistakes while decoding.
//
// An invalid value is reported once: a scalar node that has had a mistake
// is marked, and later mistakes about the same node (a check of the
// default that replaced it, a validation of a value that never was) are
// dropped. Checks that combine several values skip those whose nodes were
// marked (see decoder.bad).
type errs struct {
	// file is the pipeline file; mistakes in other places (--set) come
	// first in the report.
	file string
	list Errors
}

func (c *errs) add(file string, n *node, path, format string, args ...any) {
	if n != nil && n.failed {
		return
	}
	if n != nil && n.kind == kindScalar {
		n.failed = true
	}
	if len(c.list) >= maxCollected {
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

// count is the number of mistakes so far.
func (c *errs) count() int { return len(c.list) }

// err returns the mistakes in the order of the file (line, then column),
// those outside it (--set) first, at most maxErrors of them; nil when
// there are none.
func (c *errs) err() error {
	if len(c.list) == 0 {
		return nil
	}
	list := slices.Clone(c.list)
	slices.SortStableFunc(list, func(a, b *Error) int {
		ra, rb := 0, 0
		if a.File == c.file {
			ra = 1
		}
		if b.File == c.file {
			rb = 1
		}
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	if len(list) > maxErrors {
		list = list[:maxErrors]
	}
	return list
}
