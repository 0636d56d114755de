package connector

import (
	"context"
	"log/slog"
	"time"
)

// Split is a unit of a source's work together with its progress (for a
// file: the path and the offset of the next record).
type Split interface {
	SplitID() string
}

// InputStatus is what Reader.PollNext reports.
type InputStatus uint8

const (
	// MoreAvailable: call PollNext again right away.
	MoreAvailable InputStatus = iota + 1
	// NothingAvailable: wait until Available is ready.
	NothingAvailable
	// EndOfInput: the reader will emit nothing more (bounded input).
	EndOfInput
)

// Source is a source of records of type T.
type Source[T any] interface {
	// Bounded reports whether the source ends by itself.
	Bounded() bool
	// NewEnumerator is called once per job attempt. restored is the
	// enumerator state from the checkpoint being restored, nil on a fresh
	// start.
	NewEnumerator(ctx EnumeratorContext, restored []byte) (Enumerator, error)
	// NewReader is called once per source subtask and attempt.
	NewReader(ctx ReaderContext) (Reader[T], error)
	// SplitCodec encodes splits into checkpoints.
	SplitCodec() SplitCodec
}

// SplitCodec encodes and decodes splits. Decode must never panic on bad
// input.
type SplitCodec interface {
	Encode(Split) ([]byte, error)
	Decode([]byte) (Split, error)
}

// EnumeratorContext is the runtime's side of an enumerator. Its methods are
// only called from the enumerator's own methods or callbacks (all on one
// goroutine).
type EnumeratorContext interface {
	// Parallelism is the number of reader subtasks.
	Parallelism() int
	// Assign hands splits to the reader of subtask.
	Assign(subtask int, splits ...Split)
	// NoMoreSplits tells the reader of subtask that it gets no further splits.
	NoMoreSplits(subtask int)
	// Every calls fn on the enumerator's goroutine every interval until
	// the job ends (split discovery). An error fails the job.
	Every(interval time.Duration, fn func() error)
	// Logger is the job's logger.
	Logger() *slog.Logger
}

// Enumerator discovers and assigns splits. All of its methods are called
// from one goroutine.
//
// No split is lost or read twice across a failure, without any help from
// the enumerator: every failure restarts all readers and the enumerator
// from the last completed checkpoint, and assignments and checkpoints are
// ordered. Snapshot(n) is taken before the checkpoint's barrier is started
// at any reader, and the splits assigned before it reach their reader
// before the reader's snapshot of n: a split is either in the enumerator's
// state of n (not assigned yet) or in a reader's. Splits assigned after
// Snapshot(n) are, in the state of n, still the enumerator's to assign.
type Enumerator interface {
	// AddReader is called when the reader of subtask starts.
	AddReader(subtask int) error
	// HandleSplitRequest is called when the reader of subtask asks for work
	// (ReaderContext.RequestSplit).
	HandleSplitRequest(subtask int) error
	// Snapshot returns the enumerator's state for checkpoint id: at least
	// the splits not assigned yet, and what was already discovered.
	Snapshot(id int64) ([]byte, error)
	// Close releases resources.
	Close() error
}

// ReaderContext is the runtime's side of a reader.
type ReaderContext interface {
	Subtask() int
	Parallelism() int
	// RequestSplit asks the enumerator for more work.
	RequestSplit()
	Logger() *slog.Logger
	// Context is done when the reader's job attempt ends: at once when the
	// job fails or is cancelled, and after Close when the job finishes or
	// is stopped. What the reader does on goroutines of its own (fetching,
	// waiting on a connection, acknowledging) ends with it at the latest.
	Context() context.Context
}

// Reader reads the splits assigned to one source subtask. Its methods are
// called from the subtask's goroutine only; Available's channel may be
// closed or sent to from any goroutine.
//
// # Acknowledgements
//
// A reader that acknowledges records to the external system (a message
// queue's acks, a consumer group's offsets) does so only once the
// checkpoint that holds the records' effects is complete, in
// NotifyCheckpointComplete (see [CheckpointListener]): the records it
// emitted before its snapshot of checkpoint n (SnapshotState(n)) are
// covered by n, whose completion means every operator's state and every
// two-phase sink's committables of n are durable. An ack before that could
// lose records: a failure restores the previous checkpoint, and the
// system would not deliver them again. What is to be acknowledged after a
// restore goes into the checkpoint too ([StatefulReader]); a notification
// may be skipped (completion of n covers every id below n), and none comes
// for an aborted checkpoint, whose records the next checkpoint covers.
type Reader[T any] interface {
	// Start is called once before the first PollNext, after restored
	// splits were added.
	Start() error
	// PollNext emits what is available now, a bounded amount per call, and
	// says whether more is available.
	PollNext(out ReaderOutput[T]) (InputStatus, error)
	// Available returns a channel that becomes ready when PollNext may have
	// more to emit after it returned NothingAvailable.
	Available() <-chan struct{}
	// AddSplits hands the reader new splits (from the enumerator, or
	// restored from a checkpoint).
	AddSplits(splits []Split) error
	// NoMoreSplits says no further splits will be added: once the assigned
	// ones are done, a bounded reader reports EndOfInput.
	NoMoreSplits()
	// SnapshotState returns the progress of every unfinished split.
	SnapshotState(checkpointID int64) ([]Split, error)
	// Close releases resources.
	Close() error
}

// StatefulReader is an optional capability of readers: state of the
// reader's own beside its splits, which goes into checkpoints. It is for
// what is not the progress of a split: acknowledgements pending until a
// checkpoint completes (RabbitMQ delivery tags, Pub/Sub ack ids), or the
// ids of records already emitted (deduplication).
//
// SnapshotReaderState is called right after SnapshotState, for the same
// checkpoint. RestoreReaderState is called once, after NewReader and
// before restored splits are added and Start, with the state this subtask
// restores; it is not called on a fresh start.
//
// Unlike splits, reader state is not spread element by element: at the
// parallelism of the checkpoint, subtask s restores what subtask s
// snapshot. At another parallelism p, all of what old subtask s snapshot
// goes to subtask s mod p, in the order of the old subtasks, so a subtask
// may restore the state of several old subtasks (scale down) or none
// (scale up). State is never split or dropped; a reader whose state refers
// to splits must expect the splits to be restored at other subtasks.
type StatefulReader interface {
	SnapshotReaderState(checkpointID int64) ([][]byte, error)
	RestoreReaderState(state [][]byte) error
}

// ReaderOutput receives a reader's records.
type ReaderOutput[T any] interface {
	// Collect emits v. Its timestamp is assigned by the job's watermark
	// strategy, or none.
	Collect(v T)
	// CollectAt emits v with the event timestamp ts (unix milliseconds);
	// the job's timestamp assigner, if any, sees ts as the previous one.
	CollectAt(v T, ts int64)
	// Split returns an output for records of one split, so that each split
	// has its own watermark. Call ReleaseSplit when the split is finished.
	Split(splitID string) SplitOutput[T]
	// ReleaseSplit drops the per-split output; the finished split no longer
	// holds back the watermark.
	ReleaseSplit(splitID string)
	// Reject reports input that cannot be decoded. It returns nil when the
	// record went to the job's dead-letter output, and otherwise a
	// *BadRecordError that the reader must return from PollNext, which fails
	// the job naming the record's location.
	Reject(bad BadRecord) error
}

// SplitOutput receives the records of one split.
type SplitOutput[T any] interface {
	Collect(v T)
	CollectAt(v T, ts int64)
}

// CheckpointListener is an optional capability of readers, enumerators and
// sink writers (and of the runtime's operators): they are told when
// checkpoints complete or are aborted. Completion is subsuming: completing
// id covers every id below it, and a notification may be skipped.
// Restoring checkpoint id counts as id complete. An abort never means data
// was discarded: records keep flowing and are covered by a later
// checkpoint. Source acknowledgements to external systems (message queues,
// offset commits) happen on completion; see [Reader].
type CheckpointListener interface {
	NotifyCheckpointComplete(id int64) error
	NotifyCheckpointAborted(id int64) error
}
