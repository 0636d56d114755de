package cassandra

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/sluicehq/sluice/connector"
)

// rawValue is a value already serialized for its column: the sink
// marshals a record's values when it is written (so that a value that
// does not fit is that record's error, and the write-ahead mode can keep
// the bytes in the checkpoint), and hands the bytes to the driver as they
// are. nil is null.
type rawValue []byte

// MarshalCQL implements gocql.Marshaler.
func (r rawValue) MarshalCQL(gocql.TypeInfo) ([]byte, error) { return r, nil }

// row is one record's values, in marker order: rawValue, or
// gocql.UnsetValue for a marker whose record field is absent.
type row []any

// binder turns records into rows.
type binder[T any] struct {
	st    *Statement
	cql   string // the statement as sent: qualified with the keyspace
	bind  Binder[T]
	types []gocql.TypeInfo
	key   []bool // markers that bind a primary key column
	where string
}

func (b *binder[T]) row(v T) (row, error) {
	vals, err := b.bind(v)
	if err != nil {
		return nil, fmt.Errorf("cassandra sink %s: %w: %v", b.where, connector.ErrBadRecord, err)
	}
	if len(vals) != len(b.types) {
		return nil, connector.Permanent(fmt.Errorf("cassandra sink %s: the binder gave %d values for the %d markers of %q",
			b.where, len(vals), len(b.types), b.st.CQL))
	}
	out := make(row, len(vals))
	for i, x := range vals {
		m := b.st.Markers[i]
		if x == gocql.UnsetValue || x == nil {
			if b.key[i] {
				return nil, fmt.Errorf("cassandra sink %s: %w: no value for %s, a primary key column of %s (record field %q)",
					b.where, connector.ErrBadRecord, m.Column, b.st.Table, m.Field())
			}
			if x == gocql.UnsetValue {
				out[i] = gocql.UnsetValue
			} else {
				out[i] = rawValue(nil)
			}
			continue
		}
		raw, err := gocql.Marshal(b.types[i], coerce(x, b.types[i]))
		if err != nil {
			return nil, fmt.Errorf("cassandra sink %s: %w: record field %q (%T) does not fit column %s of type %s: %v",
				b.where, connector.ErrBadRecord, m.Field(), x, m.Column, b.types[i], err)
		}
		out[i] = rawValue(raw)
	}
	return out, nil
}

// retrier runs requests with bounded retries and backoff.
type retrier struct {
	retries     int
	first, most time.Duration
}

// do runs fn until it succeeds, fails with an error no retry can fix, or
// the retries are spent; what says what is retried, for errors.
func (r retrier) do(ctx context.Context, fn func(ctx context.Context) error) error {
	wait := r.first
	for attempt := 0; ; attempt++ {
		err := fn(ctx)
		if err == nil || !retryable(err) || attempt >= r.retries {
			if err != nil && attempt > 0 && retryable(err) {
				return fmt.Errorf("after %d attempts: %w", attempt+1, err)
			}
			return err
		}
		d := wait/2 + rand.N(wait/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, r.most)
	}
}

// directWriter writes every record at once, asynchronously, with at most
// maxInFlight writes outstanding; Flush waits for all of them.
type directWriter[T any] struct {
	sess    *gocql.Session
	b       *binder[T]
	cl      gocql.Consistency
	retry   retrier
	sem     chan struct{}
	wg      sync.WaitGroup
	ctx     context.Context // ends the writes when the writer closes
	cancel  context.CancelFunc
	mu      sync.Mutex
	err     error
	closeMu sync.Once
	lastTS  int64 // the timestamp of the last write (Write's goroutine only)
	// onClose closes the session (once).
	onClose func()
}

func newDirectWriter[T any](sess *gocql.Session, b *binder[T], c *config, onClose func()) *directWriter[T] {
	ctx, cancel := context.WithCancel(context.Background())
	return &directWriter[T]{sess: sess, b: b, cl: c.consistency,
		retry: retrier{retries: c.retries, first: c.backoff, most: c.maxBackoff},
		sem:   make(chan struct{}, c.maxInFlight), ctx: ctx, cancel: cancel, onClose: onClose}
}

func (w *directWriter[T]) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *directWriter[T]) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// Write implements connector.Writer: it returns once the write is sent
// (or an earlier write's failure).
func (w *directWriter[T]) Write(ctx context.Context, v T, _ int64) error {
	if err := w.failed(); err != nil {
		return err
	}
	r, err := w.b.row(v)
	if err != nil {
		return err
	}
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.ctx.Done():
		return errors.New("cassandra sink: writer closed")
	}
	// The write's timestamp is taken now, in the order of the records,
	// and kept by its retries: two writes of one cell in flight at once
	// (or a retried one) leave the later record's value, as Cassandra
	// resolves by timestamp, not by arrival.
	ts := w.timestamp()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }() // every acquired place is freed, whatever happens below
		if err := w.exec(w.ctx, r, ts); err != nil {
			w.fail(err)
		}
	}()
	return nil
}

// timestamp returns the write timestamp of the next record: the clock in
// microseconds, above the previous one.
func (w *directWriter[T]) timestamp() int64 {
	ts := time.Now().UnixMicro()
	if ts <= w.lastTS {
		ts = w.lastTS + 1
	}
	w.lastTS = ts
	return ts
}

func (w *directWriter[T]) exec(ctx context.Context, r row, ts int64) error {
	err := w.retry.do(ctx, func(ctx context.Context) error {
		return w.sess.Query(w.b.cql, r...).WithContext(ctx).Consistency(w.cl).Idempotent(w.b.st.Idempotent).WithTimestamp(ts).Exec()
	})
	return classify(err, w.b.st.CQL, w.b.where)
}

// Flush implements connector.Writer: it waits until every write sent
// before is answered, and returns the first failure.
func (w *directWriter[T]) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return w.failed()
}

// inFlight is the number of places taken (for tests).
func (w *directWriter[T]) inFlight() int { return len(w.sem) }

// Close implements connector.Writer: it ends the outstanding writes
// (without waiting for their answers) and closes the session.
func (w *directWriter[T]) Close() error {
	w.closeMu.Do(func() {
		w.cancel()
		w.wg.Wait()
		if w.onClose != nil {
			w.onClose()
		}
	})
	return nil
}
