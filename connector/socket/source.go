package socket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// sourceOptions are the settings of a socket source.
type sourceOptions struct {
	MaxLineBytes        int
	Backoff, MaxBackoff time.Duration
	MaxRetries          int
	EndOnClose          bool
}

// SourceOption configures a socket source.
type SourceOption func(*sourceOptions)

// MaxLineBytes bounds a line (default 1 MiB); a longer line is a bad
// record.
func MaxLineBytes(n int) SourceOption { return func(o *sourceOptions) { o.MaxLineBytes = n } }

// ReconnectBackoff sets the first reconnect delay (default 100ms), which
// doubles up to max (default 30s).
func ReconnectBackoff(first, max time.Duration) SourceOption {
	return func(o *sourceOptions) { o.Backoff, o.MaxBackoff = first, max }
}

// MaxReconnects sets how many reconnects in a row may fail before the job
// fails (default 0: retry forever).
func MaxReconnects(n int) SourceOption { return func(o *sourceOptions) { o.MaxRetries = n } }

// EndOnClose ends the source (bounded input) when the server closes the
// connection, instead of reconnecting (default: reconnect, unbounded).
func EndOnClose() SourceOption { return func(o *sourceOptions) { o.EndOnClose = true } }

// Source reads lines from a TCP server at addr.
type Source struct {
	addr string
	opts sourceOptions
}

// NewSource returns a source of the lines sent by the server at addr.
func NewSource(addr string, options ...SourceOption) *Source {
	var opts sourceOptions
	for _, o := range options {
		o(&opts)
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = 1 << 20
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	return &Source{addr: addr, opts: opts}
}

// Declare: a socket cannot replay.
func (s *Source) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: "a socket stream cannot be replayed: lines sent while the job restarts are lost"}
}

// Bounded reports whether the source ends when the server closes.
func (s *Source) Bounded() bool { return s.opts.EndOnClose }

type split struct{}

func (split) SplitID() string { return "socket" }

type codec struct{}

func (codec) Encode(connector.Split) ([]byte, error) { return []byte{}, nil }
func (codec) Decode([]byte) (connector.Split, error) { return split{}, nil }

// SplitCodec: the single split has no progress.
func (s *Source) SplitCodec() connector.SplitCodec { return codec{} }

// NewEnumerator gives the one split to subtask 0.
func (s *Source) NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error) {
	return &enumerator{ctx: ctx}, nil
}

type enumerator struct {
	ctx      connector.EnumeratorContext
	assigned bool
}

func (e *enumerator) AddReader(subtask int) error {
	if subtask == 0 && !e.assigned {
		e.assigned = true
		e.ctx.Assign(0, split{})
	}
	e.ctx.NoMoreSplits(subtask)
	return nil
}
func (e *enumerator) HandleSplitRequest(int) error   { return nil }
func (e *enumerator) Snapshot(int64) ([]byte, error) { return []byte{}, nil }
func (e *enumerator) Close() error                   { return nil }

// NewReader returns the reader of one subtask.
func (s *Source) NewReader(ctx connector.ReaderContext) (connector.Reader[string], error) {
	return newReader(s, ctx, func(text string) (string, error) { return text, nil }), nil
}

func newReader[T any](s *Source, ctx connector.ReaderContext, conv func(string) (T, error)) *reader[T] {
	c, cancel := context.WithCancel(ctx.Context())
	return &reader[T]{src: s, conv: conv, log: ctx.Logger(), ctx: c, cancel: cancel, avail: make(chan struct{}, 1)}
}

// errSkip is returned by a reader's conv for a line that is no record.
var errSkip = errors.New("skip this line")

// reader reads the lines of a Source, each converted by conv: an error
// makes the line a bad record (errSkip: skipped).
type reader[T any] struct {
	src    *Source
	conv   func(string) (T, error)
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	avail  chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	lines   []line
	err     error
	done    bool
	running bool
	noMore  bool
}

type line struct {
	text string
	n    int64 // line number within the connection
	conn int
	bad  error
}

func (r *reader[T]) Start() error { return nil }

func (r *reader[T]) AddSplits(splits []connector.Split) error {
	if len(splits) > 0 && !r.running {
		r.running = true
		r.wg.Add(1)
		go r.loop()
	}
	return nil
}

func (r *reader[T]) NoMoreSplits() {
	r.mu.Lock()
	r.noMore = true
	r.mu.Unlock()
	r.signal()
}

func (r *reader[T]) signal() {
	select {
	case r.avail <- struct{}{}:
	default:
	}
}

// loop connects, reads lines, and reconnects with backoff.
func (r *reader[T]) loop() {
	defer r.wg.Done()
	backoff, failures, conns := r.src.opts.Backoff, 0, 0
	for r.ctx.Err() == nil {
		var d net.Dialer
		conn, err := d.DialContext(r.ctx, "tcp", r.src.addr)
		if err != nil {
			failures++
			if r.src.opts.MaxRetries > 0 && failures > r.src.opts.MaxRetries {
				r.fail(fmt.Errorf("socket source: connect to %s failed %d times: %w", r.src.addr, failures, err))
				return
			}
			r.log.Warn("socket source: connect failed, retrying", "addr", r.src.addr, "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-r.ctx.Done():
				return
			}
			backoff = min(backoff*2, r.src.opts.MaxBackoff)
			continue
		}
		conns++
		failures, backoff = 0, r.src.opts.Backoff
		stop := context.AfterFunc(r.ctx, func() { conn.Close() })
		r.read(conn, conns)
		stop()
		conn.Close()
		if r.src.opts.EndOnClose {
			r.mu.Lock()
			r.done = true
			r.mu.Unlock()
			r.signal()
			return
		}
		if r.ctx.Err() == nil {
			r.log.Warn("socket source: connection closed, reconnecting", "addr", r.src.addr)
		}
	}
}

func (r *reader[T]) read(conn net.Conn, id int) {
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, min(64<<10, r.src.opts.MaxLineBytes)), r.src.opts.MaxLineBytes)
	var n int64
	for sc.Scan() {
		n++
		r.push(line{text: sc.Text(), n: n, conn: id})
	}
	if err := sc.Err(); err != nil && r.ctx.Err() == nil {
		if errors.Is(err, bufio.ErrTooLong) {
			r.push(line{n: n + 1, conn: id, bad: fmt.Errorf("line longer than %d bytes", r.src.opts.MaxLineBytes)})
		} else {
			r.log.Warn("socket source: read failed", "addr", r.src.addr, "err", err)
		}
	}
}

func (r *reader[T]) push(l line) {
	r.mu.Lock()
	r.lines = append(r.lines, l)
	r.mu.Unlock()
	r.signal()
}

func (r *reader[T]) fail(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	r.signal()
}

func (r *reader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	r.mu.Lock()
	lines := r.lines
	r.lines = nil
	err, done, noMore, running := r.err, r.done, r.noMore, r.running
	r.mu.Unlock()
	for _, l := range lines {
		bad := l.bad
		if bad == nil {
			v, err := r.conv(l.text)
			if err == nil {
				out.Collect(v)
				continue
			}
			if err == errSkip {
				continue
			}
			bad = err
		}
		br := connector.BadRecord{Source: "socket", Location: fmt.Sprintf("%s connection %d line %d", r.src.addr, l.conn, l.n), Error: bad.Error()}
		if l.bad == nil {
			br.Raw = []byte(l.text)
		}
		if err := out.Reject(br); err != nil {
			return 0, err
		}
	}
	switch {
	case err != nil:
		return 0, err
	case done || (noMore && !running):
		r.mu.Lock()
		empty := len(r.lines) == 0
		r.mu.Unlock()
		if empty {
			return connector.EndOfInput, nil
		}
		return connector.MoreAvailable, nil
	}
	return connector.NothingAvailable, nil
}

func (r *reader[T]) Available() <-chan struct{} { return r.avail }

// SnapshotState: a socket has no position to save.
func (r *reader[T]) SnapshotState(int64) ([]connector.Split, error) {
	if r.running {
		return []connector.Split{split{}}, nil
	}
	return nil, nil
}

func (r *reader[T]) Close() error {
	r.cancel()
	r.wg.Wait()
	return nil
}
