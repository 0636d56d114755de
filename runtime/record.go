package runtime

import (
	"math"

	"github.com/sluicehq/sluice/checkpoint"
)

// NoTimestamp is the timestamp of a record that has none.
const NoTimestamp int64 = math.MinInt64

// Record is one element of a stream with its event timestamp in
// milliseconds since the Unix epoch (NoTimestamp when it has none).
type Record[T any] struct {
	Value T
	Time  int64
}

// EventKind says what a control event is.
type EventKind uint8

const (
	// EventNone marks a batch that carries only records.
	EventNone EventKind = iota
	// EventWatermark carries a watermark: no record with a smaller or equal
	// timestamp follows on this channel (late records aside).
	EventWatermark
	// EventIdle marks the channel idle: it does not hold back watermarks
	// until it sends a record or EventActive.
	EventIdle
	// EventActive marks an idle channel active again.
	EventActive
	// EventBarrier is a checkpoint barrier.
	EventBarrier
	// EventEndOfInput says the sender will send nothing more on this channel.
	EventEndOfInput
)

func (k EventKind) String() string {
	switch k {
	case EventNone:
		return "none"
	case EventWatermark:
		return "watermark"
	case EventIdle:
		return "idle"
	case EventActive:
		return "active"
	case EventBarrier:
		return "barrier"
	case EventEndOfInput:
		return "end-of-input"
	}
	return "unknown"
}

// CheckpointKind distinguishes periodic checkpoints, user savepoints and the
// final checkpoint taken when all bounded input has ended or the job is
// stopped. It is [checkpoint.Kind], the one type the coordinator, the
// storage and the runtime share.
type CheckpointKind = checkpoint.Kind

const (
	// KindCheckpoint is a periodic checkpoint.
	KindCheckpoint = checkpoint.KindCheckpoint
	// KindSavepoint is a checkpoint triggered by the user, never removed by retention.
	KindSavepoint = checkpoint.KindSavepoint
	// KindFinal is the checkpoint after all bounded sources ended: two-phase
	// sinks commit everything when it completes.
	KindFinal = checkpoint.KindFinal
)

// Barrier is the in-band marker of a checkpoint.
type Barrier struct {
	ID        int64
	Timestamp int64 // unix milliseconds at trigger time
	Kind      CheckpointKind
	run       *checkpointRun
}

// Event is an in-band control event.
type Event struct {
	Kind      EventKind
	Watermark int64 // EventWatermark
	Barrier   Barrier
}

// Batch is the unit of transfer between tasks: records followed by at most
// one control event. From is the index of the sending subtask, which is the
// receiver's channel index within the input.
type Batch[T any] struct {
	Records []Record[T]
	Event   Event
	From    int
}
