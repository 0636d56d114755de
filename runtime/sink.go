package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"

	"github.com/sluicehq/sluice/connector"
)

const (
	writerState      = "sink-writer"
	committableState = "sink-committables"
)

// NewSinkOperator returns the operator that writes records to snk. With a
// TwoPhaseSink whose writer is a PreCommitter, committables are taken on
// every barrier and committed when the checkpoint completes; otherwise the
// writer is flushed on every barrier.
func NewSinkOperator[T any](snk connector.Sink[T]) Operator {
	return &sinkOperator[T]{sink: snk}
}

type sinkOperator[T any] struct {
	sink      connector.Sink[T]
	ctx       *OperatorContext
	bg        context.Context
	w         connector.Writer[T]
	pre       connector.PreCommitter
	committer connector.Committer
	pending   map[int64][][]byte // committables by checkpoint id, not yet committed
}

type writerContext struct{ ctx *OperatorContext }

func (w writerContext) Subtask() int         { return w.ctx.Subtask }
func (w writerContext) Parallelism() int     { return w.ctx.Parallelism }
func (w writerContext) Checkpointing() bool  { return w.ctx.Checkpointing }
func (w writerContext) Logger() *slog.Logger { return w.ctx.Logger }

func (s *sinkOperator[T]) Open(ctx *OperatorContext) error {
	s.ctx = ctx
	s.bg = ctx.task.ctx
	s.pending = map[int64][][]byte{}
	var restoredWriter [][]byte
	if ctx.Restored != nil {
		restoredWriter = ctx.Restored.Lists[writerState]
	}
	w, err := s.sink.NewWriter(writerContext{ctx}, restoredWriter)
	if err != nil {
		return fmt.Errorf("create writer: %w", err)
	}
	s.w = w
	if tp, ok := s.sink.(connector.TwoPhaseSink[T]); ok {
		if pre, ok := w.(connector.PreCommitter); ok {
			s.pre = pre
			c, err := tp.NewCommitter(writerContext{ctx})
			if err != nil {
				return fmt.Errorf("create committer: %w", err)
			}
			s.committer = c
		}
	}
	if ctx.Restored != nil && s.committer != nil {
		// Restoring checkpoint n means n completed: commit what it holds,
		// by the checkpoint each was pre-committed for.
		for _, b := range ctx.Restored.Lists[committableState] {
			id, c, err := decodeCommittable(b)
			if err != nil {
				return fmt.Errorf("restore committables of checkpoint %d: %w", ctx.Restored.CheckpointID, err)
			}
			s.pending[id] = append(s.pending[id], c)
		}
		if err := s.commitUpTo(ctx.Restored.CheckpointID); err != nil {
			return fmt.Errorf("commit restored committables of checkpoint %d: %w", ctx.Restored.CheckpointID, err)
		}
	}
	return nil
}

func (s *sinkOperator[T]) ProcessRecord(r Record[T]) error { return s.w.Write(s.bg, r.Value, r.Time) }
func (s *sinkOperator[T]) ProcessWatermark(int64) error    { return nil }
func (s *sinkOperator[T]) ProcessStatus(bool) error        { return nil }

func (s *sinkOperator[T]) EndInput() error {
	if err := s.w.Flush(s.bg); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if s.committer != nil && !s.ctx.Checkpointing {
		// Without periodic checkpoints the end of input is the commit point
		// (for this and for whatever a savepoint pre-committed).
		c, err := s.pre.PreCommit(s.bg, 0)
		if err != nil {
			return fmt.Errorf("pre-commit at end of input: %w", err)
		}
		if len(c) > 0 {
			s.pending[endOfInput] = c
		}
		return s.commitUpTo(endOfInput)
	}
	return nil
}

func (s *sinkOperator[T]) SnapshotState(cp CheckpointInfo, snap *OperatorSnapshot) error {
	if s.pre != nil {
		if cp.Kind == KindFinal {
			// The last checkpoint of the job (end of input, or a graceful
			// stop): the writer finishes everything so the commit makes it
			// all visible.
			if err := s.w.Flush(s.bg); err != nil {
				return fmt.Errorf("flush before the final checkpoint: %w", err)
			}
		}
		c, err := s.pre.PreCommit(s.bg, cp.ID)
		if err != nil {
			return fmt.Errorf("pre-commit: %w", err)
		}
		if len(c) > 0 {
			s.pending[cp.ID] = c
		}
		ids := make([]int64, 0, len(s.pending))
		for id := range s.pending {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			for _, c := range s.pending[id] {
				snap.AddList(committableState, encodeCommittable(id, c))
			}
		}
	} else if err := s.w.Flush(s.bg); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if sw, ok := s.w.(connector.StatefulWriter); ok {
		st, err := sw.SnapshotState(cp.ID)
		if err != nil {
			return fmt.Errorf("snapshot writer: %w", err)
		}
		snap.AddList(writerState, st...)
	}
	return nil
}

func (s *sinkOperator[T]) NotifyCheckpointComplete(id int64) error {
	if l, ok := s.w.(connector.CheckpointListener); ok {
		if err := l.NotifyCheckpointComplete(id); err != nil {
			return err
		}
	}
	if s.committer == nil {
		return nil
	}
	if err := s.commitUpTo(id); err != nil {
		return fmt.Errorf("commit checkpoint %d: %w", id, err)
	}
	return nil
}

// commitUpTo commits the committables of every checkpoint up to id, one
// checkpoint at a time, in checkpoint order. What was pre-committed at the
// end of input without checkpoints (key endOfInput) is committed as
// checkpoint 0.
func (s *sinkOperator[T]) commitUpTo(id int64) error {
	var ids []int64
	for pid := range s.pending {
		if pid <= id {
			ids = append(ids, pid)
		}
	}
	slices.Sort(ids)
	for _, pid := range ids {
		cid := pid
		if pid == endOfInput {
			cid = 0
		}
		if err := s.committer.Commit(s.bg, cid, s.pending[pid]); err != nil {
			return err
		}
		delete(s.pending, pid)
	}
	return nil
}

// endOfInput is the key of the committables pre-committed at the end of
// input of a job without checkpoints: after those of any savepoint.
const endOfInput = math.MaxInt64

func (s *sinkOperator[T]) NotifyCheckpointAborted(id int64) error {
	// Committables of an aborted checkpoint stay pending: the next completed
	// checkpoint covers them.
	if l, ok := s.w.(connector.CheckpointListener); ok {
		return l.NotifyCheckpointAborted(id)
	}
	return nil
}

func (s *sinkOperator[T]) Close() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if s.committer != nil {
		errs = append(errs, s.committer.Close())
	}
	return errors.Join(errs...)
}

func encodeCommittable(id int64, c []byte) []byte {
	b := binary.AppendVarint(nil, id)
	return append(b, c...)
}

func decodeCommittable(b []byte) (int64, []byte, error) {
	id, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, errors.New("malformed committable")
	}
	return id, b[n:], nil
}
