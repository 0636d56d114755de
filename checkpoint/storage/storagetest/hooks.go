package storagetest

import (
	"errors"
	"strings"
	"sync"
)

// ErrInjected is the error of faults injected by FailOn.
var ErrInjected = errors.New("injected fault")

// FailOn returns a Hook that fails every operation of kind on a path ending
// in pathSuffix ("" matches every path; for a rename, the old or the new
// path) with an error wrapping ErrInjected.
func FailOn(kind OpKind, pathSuffix string) Hook {
	return func(op Op) error {
		if op.Kind != kind {
			return nil
		}
		if strings.HasSuffix(op.Path, pathSuffix) || op.Kind == OpRename && strings.HasSuffix(op.NewPath, pathSuffix) {
			return &injectedError{op: op}
		}
		return nil
	}
}

type injectedError struct{ op Op }

func (e *injectedError) Error() string { return "injected fault: " + e.op.String() }
func (e *injectedError) Unwrap() error { return ErrInjected }

// Log records operations; its Hook never fails. It is safe for concurrent
// use.
type Log struct {
	mu  sync.Mutex
	ops []Op
	off bool
}

// Hook records op unless recording is paused.
func (l *Log) Hook(op Op) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.off {
		l.ops = append(l.ops, op)
	}
	return nil
}

// Pause stops recording until Resume.
func (l *Log) Pause() { l.mu.Lock(); l.off = true; l.mu.Unlock() }

// Resume starts recording again after Pause.
func (l *Log) Resume() { l.mu.Lock(); l.off = false; l.mu.Unlock() }

// Ops returns the operations recorded so far.
func (l *Log) Ops() []Op {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Op(nil), l.ops...)
}

// Reset forgets the operations recorded so far.
func (l *Log) Reset() { l.mu.Lock(); l.ops = nil; l.mu.Unlock() }

// Trace returns the recorded operations, one per line, with paths below
// root shown relative to it ("." for root itself) in slash form.
func (l *Log) Trace(root string) string { return Trace(l.Ops(), root) }

// Chain returns a Hook that calls hooks in order and returns the first
// error.
func Chain(hooks ...Hook) Hook {
	return func(op Op) error {
		for _, h := range hooks {
			if err := h(op); err != nil {
				return err
			}
		}
		return nil
	}
}

// Trace formats ops one per line, with paths below root shown relative to
// it ("." for root itself) in slash form.
func Trace(ops []Op, root string) string {
	var b strings.Builder
	for _, op := range ops {
		b.WriteString(op.format(root))
		b.WriteByte('\n')
	}
	return b.String()
}
