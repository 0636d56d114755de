package runtime

import (
	"io"
	"log/slog"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/state"
)

// Operator is the lifecycle every operator has. Open is called once in the
// task goroutine before any input; Close once after the last.
//
// An operator that receives input implements [Input] for its input type
// (or [MultiInput] when it has several inputs) and [WatermarkProcessor].
// Optional capabilities are separate interfaces, checked at run time:
// [Snapshotter], [CheckpointListener], [EndInputHandler].
type Operator interface {
	Open(ctx *OperatorContext) error
	Close() error
}

// WatermarkProcessor reacts to watermarks and watermark status. An operator
// forwards both to its output after acting on them (firing event-time
// timers, for example).
type WatermarkProcessor interface {
	ProcessWatermark(wm int64) error
	ProcessStatus(idle bool) error
}

// MultiInput is implemented by operators with more than one input. InputAt
// returns the [Input] for input i; the value must be an Input[T] for the
// element type of that input.
type MultiInput interface {
	InputAt(i int) any
}

// EndInputHandler is told when all of the operator's inputs ended (bounded
// input). It may still emit records.
type EndInputHandler interface {
	EndInput() error
}

// Snapshotter takes part in checkpoints. SnapshotState runs in the task
// goroutine when the checkpoint's barrier has been aligned, in chain order;
// it must be short. Heavy work (writing keyed state) belongs in
// OperatorSnapshot.Keyed, which is written by another goroutine while the
// task goes on processing.
type Snapshotter interface {
	SnapshotState(cp CheckpointInfo, snap *OperatorSnapshot) error
}

// CheckpointListener is the optional capability of operators to be told
// when checkpoints complete or are aborted: the same contract as for
// connectors' readers, enumerators and writers.
type CheckpointListener = connector.CheckpointListener

// CheckpointInfo identifies a checkpoint to operators.
type CheckpointInfo struct {
	ID        int64
	Timestamp int64
	Kind      CheckpointKind
	// Incremental asks keyed operators for an incremental snapshot
	// (state.KeyedBackend.IncrementalSnapshot), and NewChain for one that
	// starts a new chain: call ResetIncremental first. Both are false for
	// savepoints and without CheckpointConfig.Incremental.
	Incremental, NewChain bool
}

// KeyedSnapshot is the asynchronous part of a keyed state snapshot
// (implemented by *state.Snapshot). Delta reports whether it holds only the
// changes since the operator's previous incremental snapshot, whose file,
// and the files that one builds on, the runtime then keeps referring to.
// Entries, after WriteTo, returns the entries written and those live.
type KeyedSnapshot interface {
	WriteTo(w io.Writer) (int64, error)
	Release()
	Delta() bool
	Entries() (written, live int64)
}

// OperatorSnapshot collects what one operator subtask contributes to a
// checkpoint.
//
// Lists hold operator state that each subtask gets back whole at an
// unchanged parallelism, and that is redistributed round-robin over the
// new subtasks when the parallelism changes (source splits, for example).
// Unions hold operator state that every subtask receives whole on restore.
type OperatorSnapshot struct {
	Keyed  KeyedSnapshot
	Lists  map[string][][]byte
	Unions map[string][][]byte
}

// AddList appends entries to the named redistributable list state.
func (s *OperatorSnapshot) AddList(name string, entries ...[]byte) {
	if s.Lists == nil {
		s.Lists = map[string][][]byte{}
	}
	s.Lists[name] = append(s.Lists[name], entries...)
}

// AddUnion appends entries to the named union list state.
func (s *OperatorSnapshot) AddUnion(name string, entries ...[]byte) {
	if s.Unions == nil {
		s.Unions = map[string][][]byte{}
	}
	s.Unions[name] = append(s.Unions[name], entries...)
}

// RestoredState is what an operator subtask gets back from a checkpoint.
type RestoredState struct {
	CheckpointID int64
	// KeyedFiles opens, one after the other, every keyed-state file of the
	// old subtasks whose key groups overlap this subtask's range.
	KeyedFiles []func() (io.ReadCloser, error)
	Lists      map[string][][]byte
	Unions     map[string][][]byte
}

// RestoreKeyed feeds every restored keyed-state file to restore (usually
// (*state.KeyedBackend).Restore).
func (r *RestoredState) RestoreKeyed(restore func(io.Reader) error) error {
	if r == nil {
		return nil
	}
	for _, open := range r.KeyedFiles {
		f, err := open()
		if err != nil {
			return err
		}
		err = restore(f)
		cerr := f.Close()
		if err != nil {
			return err
		}
		if cerr != nil {
			return cerr
		}
	}
	return nil
}

// OperatorContext is what the runtime tells an operator subtask about
// itself, and the services it offers.
type OperatorContext struct {
	Name           string
	UID            string
	Subtask        int
	Parallelism    int
	MaxParallelism int
	// KeyGroups is the range of key groups this subtask owns (keyed operators).
	KeyGroups state.KeyGroupRange
	Logger    *slog.Logger
	// Restored is nil on a fresh start.
	Restored *RestoredState
	// Checkpointing says whether the job takes checkpoints.
	Checkpointing bool
	// ProcessingTime schedules callbacks in the task goroutine.
	ProcessingTime ProcessingTimeService

	task *task
}

// ProcessingTimeService gives operators the processing time and callbacks.
type ProcessingTimeService interface {
	// Now returns the current processing time in unix milliseconds.
	Now() int64
	// Schedule runs fn in the task goroutine once processing time reaches
	// ts (unix milliseconds). fn receives the time it fired at.
	Schedule(ts int64, fn func(now int64) error)
}
