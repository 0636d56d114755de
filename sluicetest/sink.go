package sluicetest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
)

// Sink collects every record written to it, from all subtasks, in memory.
// It is at-least-once: after a restore, records written before the failure
// and replayed are collected again.
type Sink[T any] struct {
	mu      sync.Mutex
	records []runtime.Record[T]
	flushes int
}

// NewSink returns an empty collecting sink.
func NewSink[T any]() *Sink[T] { return &Sink[T]{} }

// Declare says the sink is at-least-once.
func (s *Sink[T]) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "in-memory test sink keeps everything written, including replays"}
}

// Values returns the values written so far, in arrival order.
func (s *Sink[T]) Values() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]T, len(s.records))
	for i, r := range s.records {
		out[i] = r.Value
	}
	return out
}

// Records returns the records written so far with their timestamps.
func (s *Sink[T]) Records() []runtime.Record[T] {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]runtime.Record[T](nil), s.records...)
}

// Len is the number of records written so far.
func (s *Sink[T]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// NewWriter implements connector.Sink.
func (s *Sink[T]) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[T], error) {
	return sinkWriter[T]{s}, nil
}

type sinkWriter[T any] struct{ s *Sink[T] }

func (w sinkWriter[T]) Write(_ context.Context, v T, ts int64) error {
	w.s.mu.Lock()
	w.s.records = append(w.s.records, runtime.Record[T]{Value: v, Time: ts})
	w.s.mu.Unlock()
	return nil
}

func (w sinkWriter[T]) Flush(context.Context) error {
	w.s.mu.Lock()
	w.s.flushes++
	w.s.mu.Unlock()
	return nil
}

func (w sinkWriter[T]) Close() error { return nil }

// TxSink is an exactly-once in-memory sink: records become visible only
// when the checkpoint that pre-committed them completes. It implements the
// two-phase protocol the way a transactional target does: a transaction
// per checkpoint per subtask, commits are idempotent, and transactions that
// are never committed stay invisible.
type TxSink[T any] struct {
	mu        sync.Mutex
	next      uint64
	open      map[uint64][]T // pre-committed, not yet committed
	committed map[uint64]bool
	values    []T
	commits   int
}

// NewTxSink returns an empty transactional sink.
func NewTxSink[T any]() *TxSink[T] {
	return &TxSink[T]{open: map[uint64][]T{}, committed: map[uint64]bool{}}
}

// Declare says the sink is exactly-once with checkpoints.
func (s *TxSink[T]) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "without checkpoints everything commits at the end of input; a failure loses the open transaction and a restart from scratch repeats"}
	}
	return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: "one transaction per checkpoint, committed when the checkpoint completes"}
}

// Values returns the committed values in commit order.
func (s *TxSink[T]) Values() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]T(nil), s.values...)
}

// Commits is the number of transactions committed.
func (s *TxSink[T]) Commits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits
}

// NewWriter implements connector.Sink.
func (s *TxSink[T]) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[T], error) {
	return &txWriter[T]{s: s}, nil
}

// NewCommitter implements connector.TwoPhaseSink.
func (s *TxSink[T]) NewCommitter(connector.WriterContext) (connector.Committer, error) {
	return txCommitter[T]{s}, nil
}

type txWriter[T any] struct {
	s   *TxSink[T]
	buf []T
}

func (w *txWriter[T]) Write(_ context.Context, v T, _ int64) error {
	w.buf = append(w.buf, v)
	return nil
}

func (w *txWriter[T]) Flush(context.Context) error { return nil }

func (w *txWriter[T]) PreCommit(context.Context, int64) ([][]byte, error) {
	if len(w.buf) == 0 {
		return nil, nil
	}
	w.s.mu.Lock()
	w.s.next++
	id := w.s.next
	w.s.open[id] = w.buf
	w.s.mu.Unlock()
	w.buf = nil
	return [][]byte{binary.AppendUvarint(nil, id)}, nil
}

func (w *txWriter[T]) Close() error { return nil }

type txCommitter[T any] struct{ s *TxSink[T] }

func (c txCommitter[T]) Commit(_ context.Context, _ int64, committables [][]byte) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, b := range committables {
		id, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("sluicetest: malformed committable")
		}
		if c.s.committed[id] {
			continue // already committed: success
		}
		vals, ok := c.s.open[id]
		if !ok {
			return fmt.Errorf("sluicetest: transaction %d unknown: %w", id, connector.ErrDataLoss)
		}
		c.s.values = append(c.s.values, vals...)
		c.s.committed[id] = true
		delete(c.s.open, id)
		c.s.commits++
	}
	return nil
}

func (c txCommitter[T]) Close() error { return nil }
