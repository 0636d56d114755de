package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
)

// produceErr keeps the first error of a client's produce callbacks.
type produceErr struct {
	mu  sync.Mutex
	err error
}

func (p *produceErr) promise(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	if p.err == nil {
		p.err = fmt.Errorf("kafka sink: produce to %s: %w", r.Topic, classify(err))
	}
	p.mu.Unlock()
}

func (p *produceErr) get() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// record serializes v and completes the record.
func record[T any](c *sinkConfig, ser Serializer[T], v T, ts int64) (*kgo.Record, error) {
	rec, err := ser(v)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: serialize: %w", err)
	}
	if rec == nil {
		return nil, errors.New("kafka sink: serializer returned no record")
	}
	if rec.Topic == "" {
		if c.topic == "" {
			return nil, errors.New("kafka sink: record without topic, and no kafka.DefaultTopic")
		}
		rec.Topic = c.topic
	}
	if rec.Timestamp.IsZero() && ts != math.MinInt64 {
		rec.Timestamp = time.UnixMilli(ts)
	}
	return rec, nil
}

// producerOpts are the options of every producer of the sink.
func (c *sinkConfig) producerClientOpts(log *slog.Logger) []kgo.Opt {
	// The delivery timeout goes before the user's client options, which may
	// override it.
	opts := []kgo.Opt{kgo.RecordDeliveryTimeout(c.deliveryTimeout)}
	return append(append(opts, c.conn.clientOpts(log)...), c.producerOpts...)
}

// writer is the at-least-once writer: an idempotent producer (retries do
// not duplicate) whose Flush, on every barrier, waits for the
// acknowledgement of every record produced before.
type writer[T any] struct {
	cfg     *sinkConfig
	ser     Serializer[T]
	cl      *kgo.Client
	perr    produceErr
	promise func(*kgo.Record, error)
}

func newWriter[T any](cfg *sinkConfig, ser Serializer[T], ctx connector.WriterContext) (*writer[T], error) {
	cl, err := kgo.NewClient(cfg.producerClientOpts(ctx.Logger())...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	w := &writer[T]{cfg: cfg, ser: ser, cl: cl}
	w.promise = w.perr.promise
	return w, nil
}

func (w *writer[T]) Write(ctx context.Context, v T, ts int64) error {
	if err := w.perr.get(); err != nil {
		return err
	}
	rec, err := record(w.cfg, w.ser, v, ts)
	if err != nil {
		return err
	}
	w.cl.Produce(ctx, rec, w.promise)
	return nil
}

func (w *writer[T]) Flush(ctx context.Context) error {
	if err := w.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka sink: flush: %w", err)
	}
	return w.perr.get()
}

func (w *writer[T]) Close() error {
	w.cl.Close()
	return nil
}
