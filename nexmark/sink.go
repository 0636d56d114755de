package nexmark

import (
	"context"
	"sync"

	"github.com/sluicehq/sluice/connector"
)

// Discard is a sink that reads every field of every record (Folder) and
// keeps only their number and a checksum, so that no work of the job can
// be optimised away. It is at-least-once: after a restore, replayed
// records are counted again.
type Discard[T Folder] struct {
	mu  sync.Mutex
	n   int64
	sum uint64
}

// NewDiscard returns an empty discarding sink.
func NewDiscard[T Folder]() *Discard[T] { return &Discard[T]{} }

// Declare says the sink is at-least-once.
func (d *Discard[T]) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "discarding sink: counts replayed records again"}
}

// Count is the number of records flushed so far by all writers.
func (d *Discard[T]) Count() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Sum is the checksum of the records flushed so far (order-independent).
func (d *Discard[T]) Sum() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sum
}

// NewWriter implements connector.Sink.
func (d *Discard[T]) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[T], error) {
	return &discardWriter[T]{d: d}, nil
}

type discardWriter[T Folder] struct {
	d   *Discard[T]
	n   int64
	sum uint64
}

func (w *discardWriter[T]) Write(_ context.Context, v T, _ int64) error {
	w.n++
	w.sum += v.Fold(0x9e3779b97f4a7c15)
	return nil
}

func (w *discardWriter[T]) Flush(context.Context) error {
	w.d.mu.Lock()
	w.d.n += w.n
	w.d.sum += w.sum
	w.d.mu.Unlock()
	w.n, w.sum = 0, 0
	return nil
}

func (w *discardWriter[T]) Close() error { return nil }

// Counter is what a query's discarding sink reports.
type Counter interface {
	Count() int64
	Sum() uint64
}
