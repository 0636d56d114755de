package connector

import (
	"context"
	"log/slog"
)

// Sink is a destination for records of type T.
type Sink[T any] interface {
	// NewWriter is called once per sink subtask and attempt. restored holds
	// the writer state of this subtask from the checkpoint being restored
	// (see StatefulWriter), nil on a fresh start.
	NewWriter(ctx WriterContext, restored [][]byte) (Writer[T], error)
}

// WriterContext is the runtime's side of a sink writer.
type WriterContext interface {
	Subtask() int
	Parallelism() int
	// Checkpointing tells whether the job takes checkpoints.
	Checkpointing() bool
	Logger() *slog.Logger
}

// Writer writes records to the target. Its methods are called from the
// subtask's goroutine only.
type Writer[T any] interface {
	// Write writes one record; ts is its event timestamp, or math.MinInt64.
	Write(ctx context.Context, v T, ts int64) error
	// Flush returns when everything written before is durable in the
	// target. An at-least-once writer is flushed on every checkpoint
	// barrier and at end of input. A two-phase writer (PreCommitter) gets
	// PreCommit on barriers instead, and Flush only at the end: at end of
	// input and on the barrier of the final checkpoint (also when the job is
	// stopped gracefully), before that PreCommit; it may finish everything
	// then. Flush may be called twice at the end.
	Flush(ctx context.Context) error
	// Close releases resources; it does not imply Flush.
	Close() error
}

// StatefulWriter is an optional capability: the writer has state of its
// own that goes into checkpoints (buffered entries not yet accepted by the
// target, in-progress file names).
type StatefulWriter interface {
	SnapshotState(checkpointID int64) ([][]byte, error)
}

// PreCommitter is the writer side of an exactly-once sink. On the barrier
// of checkpoint id, PreCommit makes everything written since the last
// pre-commit ready to commit and returns the committables, which go into
// the checkpoint.
type PreCommitter interface {
	PreCommit(ctx context.Context, checkpointID int64) ([][]byte, error)
}

// TwoPhaseSink is a sink with a committer (exactly-once delivery).
type TwoPhaseSink[T any] interface {
	Sink[T]
	// NewCommitter is called once per sink subtask and attempt.
	NewCommitter(ctx WriterContext) (Committer, error)
}

// Committer commits committables once the checkpoint that holds them is
// complete.
type Committer interface {
	// Commit commits the committables that the writer pre-committed for
	// checkpoint checkpointID, once that checkpoint is complete (or was
	// restored, which means it completed). It is called once per
	// checkpoint that holds committables, in checkpoint order; after a
	// skipped notification, the calls for the skipped checkpoints come
	// first, and what was pre-committed for a savepoint is committed with
	// the next checkpoint, under the savepoint's id. checkpointID is 0 for
	// what a job without checkpoints commits at the end of its input.
	//
	// After a restore at the parallelism of the checkpoint, a subtask
	// gets back exactly the committables (and writer state) it snapshot;
	// at another parallelism the committables of all old subtasks are
	// spread round-robin, so one committer may get several old subtasks'
	// and those of one old subtask may be committed by several at once.
	//
	// It retries transient failures itself, treats "already committed" as
	// success (after a restore, restored committables are committed again),
	// and returns an error wrapping ErrDataLoss when a committable can no
	// longer be committed (an expired or fenced transaction).
	Commit(ctx context.Context, checkpointID int64, committables [][]byte) error
	// Close releases resources.
	Close() error
}
