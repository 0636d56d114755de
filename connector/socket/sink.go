package socket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// sinkOptions are the settings of a socket sink.
type sinkOptions struct {
	Retries     int
	Backoff     time.Duration
	BufferBytes int
	Probe       time.Duration
}

// SinkOption configures a socket sink.
type SinkOption func(*sinkOptions)

// WriteRetries sets how many times a failed write is retried after
// reconnecting before the job fails (default 5).
func WriteRetries(n int) SinkOption { return func(o *sinkOptions) { o.Retries = n } }

// RetryBackoff sets the delay before the first retry (default 100ms),
// doubling.
func RetryBackoff(d time.Duration) SinkOption { return func(o *sinkOptions) { o.Backoff = d } }

// BufferBytes flushes early when this much is buffered (default 64 KiB).
func BufferBytes(n int) SinkOption { return func(o *sinkOptions) { o.BufferBytes = n } }

// CloseProbe sets how long a flush waits, after writing, for the receiver
// to show that it closed the connection (default 5ms; negative disables).
// A closed or reset connection means the lines may not have arrived: they
// are written again on a new connection.
func CloseProbe(d time.Duration) SinkOption { return func(o *sinkOptions) { o.Probe = d } }

// Sink writes one line per record to the TCP server at addr.
type Sink[T any] struct {
	addr   string
	format func(T) []byte
	opts   sinkOptions
}

// NewSink returns a sink; format renders a record without the newline
// (nil: fmt %v).
func NewSink[T any](addr string, format func(T) []byte, options ...SinkOption) *Sink[T] {
	var opts sinkOptions
	for _, o := range options {
		o(&opts)
	}
	if format == nil {
		format = func(v T) []byte { return fmt.Appendf(nil, "%v", v) }
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 100 * time.Millisecond
	}
	if opts.BufferBytes <= 0 {
		opts.BufferBytes = 64 << 10
	}
	if opts.Probe == 0 {
		opts.Probe = 5 * time.Millisecond
	}
	return &Sink[T]{addr: addr, format: format, opts: opts}
}

// Declare says what the sink gives.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: "no checkpoints: a failure loses unflushed lines"}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "flushed on every barrier; unflushed lines are rewritten after a reconnect or replayed after a restore"}
}

// NewWriter implements connector.Sink.
func (s *Sink[T]) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[T], error) {
	return &sinkWriter[T]{s: s}, nil
}

type sinkWriter[T any] struct {
	s    *Sink[T]
	conn net.Conn
	buf  []byte
}

func (w *sinkWriter[T]) Write(ctx context.Context, v T, _ int64) error {
	w.buf = append(w.buf, w.s.format(v)...)
	w.buf = append(w.buf, '\n')
	if len(w.buf) >= w.s.opts.BufferBytes {
		return w.Flush(ctx)
	}
	return nil
}

// Flush writes the buffered lines, reconnecting and retrying on errors.
// A line is dropped from the buffer only once written whole.
func (w *sinkWriter[T]) Flush(ctx context.Context) error {
	backoff := w.s.opts.Backoff
	var lastErr error
	for attempt := 0; len(w.buf) > 0; attempt++ {
		if attempt > w.s.opts.Retries {
			return fmt.Errorf("socket sink: write to %s failed %d times: %w", w.s.addr, attempt, lastErr)
		}
		if attempt > 0 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return ctx.Err()
			}
			backoff *= 2
		}
		if w.conn == nil {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", w.s.addr)
			if err != nil {
				lastErr = err
				continue
			}
			w.conn = c
		}
		bw := bufio.NewWriterSize(w.conn, 64<<10)
		if _, err := bw.Write(w.buf); err != nil {
			lastErr = err
			w.conn.Close()
			w.conn = nil
			continue
		}
		if err := bw.Flush(); err != nil {
			lastErr = err
			w.conn.Close()
			w.conn = nil
			continue
		}
		if err := w.probe(); err != nil {
			lastErr = err
			w.conn.Close()
			w.conn = nil
			continue
		}
		w.buf = w.buf[:0]
	}
	return nil
}

// probe reads from the connection for a moment: a receiver that closed or
// reset it shows up as EOF or an error, which means what was just written
// may be lost. Data the receiver sends is discarded. A quiet connection
// (the read times out) is alive.
func (w *sinkWriter[T]) probe() error {
	if w.s.opts.Probe < 0 {
		return nil
	}
	var b [512]byte
	w.conn.SetReadDeadline(time.Now().Add(w.s.opts.Probe))
	defer w.conn.SetReadDeadline(time.Time{})
	for {
		_, err := w.conn.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return fmt.Errorf("connection to %s closed by the receiver: %w", w.s.addr, err)
	}
}

func (w *sinkWriter[T]) Close() error {
	if w.conn != nil {
		return w.conn.Close()
	}
	return nil
}
