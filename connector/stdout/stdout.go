// Package stdout is a sink that writes records to standard output (or any
// io.Writer), one line per record: at-least-once, flushed on every
// checkpoint barrier, so every record before a completed checkpoint has
// been printed (and records after it may be printed again after a
// restore).
package stdout

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/sluicehq/sluice/connector"
)

// Sink writes one line per record.
type Sink[T any] struct {
	mu     sync.Mutex
	w      io.Writer
	format func(T) []byte
	limit  int
}

// New returns a sink writing fmt's %v of each record to standard output.
func New[T any]() *Sink[T] { return To[T](os.Stdout, nil) }

// To returns a sink writing to w; format renders a record without the
// newline (nil: fmt %v). Lines of all subtasks are written whole, never
// interleaved.
func To[T any](w io.Writer, format func(T) []byte) *Sink[T] {
	if format == nil {
		format = func(v T) []byte { return fmt.Appendf(nil, "%v", v) }
	}
	return &Sink[T]{w: w, format: format, limit: 64 << 10}
}

// Declare says what the sink gives.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: "no checkpoints: a failure loses unflushed lines"}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "flushed on every barrier; lines after the last checkpoint are printed again after a restore"}
}

// NewWriter implements connector.Sink.
func (s *Sink[T]) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[T], error) {
	return &writer[T]{s: s}, nil
}

type writer[T any] struct {
	s   *Sink[T]
	buf []byte
}

func (w *writer[T]) Write(ctx context.Context, v T, _ int64) error {
	w.buf = append(w.buf, w.s.format(v)...)
	w.buf = append(w.buf, '\n')
	if len(w.buf) >= w.s.limit {
		return w.Flush(ctx)
	}
	return nil
}

func (w *writer[T]) Flush(context.Context) error {
	if len(w.buf) == 0 {
		return nil
	}
	w.s.mu.Lock()
	_, err := w.s.w.Write(w.buf)
	w.s.mu.Unlock()
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	return nil
}

func (w *writer[T]) Close() error { return w.Flush(context.Background()) }
