package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
	"github.com/sluicehq/sluice/runtime/restart"
)

// CheckpointMode is the consistency of checkpoints.
type CheckpointMode uint8

const (
	// ExactlyOnce aligns barriers (or, with CheckpointConfig.Unaligned,
	// stores the records that overtake them): state reflects every record
	// exactly once.
	ExactlyOnce CheckpointMode = iota
	// AtLeastOnce does not align: after a restore some records may be
	// reflected twice in state.
	AtLeastOnce
)

func (m CheckpointMode) String() string {
	if m == AtLeastOnce {
		return "at-least-once"
	}
	return "exactly-once"
}

// CheckpointConfig configures checkpointing. Checkpointing is on when
// Interval > 0.
type CheckpointConfig struct {
	// Interval between periodic checkpoints; 0 disables checkpointing.
	Interval time.Duration
	// Mode is exactly-once (default) or at-least-once.
	Mode CheckpointMode
	// Unaligned makes exactly-once checkpoints unaligned (default false): a
	// task snapshots its state and forwards the barrier as soon as the first
	// barrier of a checkpoint arrives, without blocking any input channel,
	// and stores the records that arrive on its other channels before their
	// barrier (in-flight records) in the checkpoint; a restore replays them
	// before any new input. Checkpoints then no longer wait for a lagging
	// input, at the cost of storing in-flight records. Savepoints and final
	// checkpoints are always aligned. Records crossing the network must
	// round-trip through state.DefaultCodec (JSON for composite types:
	// exported fields only); a job whose types do not is refused. Only
	// with Mode ExactlyOnce. See the package documentation.
	Unaligned bool
	// AlignedTimeout, with Unaligned, starts every checkpoint aligned and
	// switches a task to unaligned when the alignment of a checkpoint has
	// taken longer than this since its first barrier arrived at the task
	// (measured on Config.Clock, millisecond resolution). 0 (the default)
	// is unaligned from the first barrier.
	AlignedTimeout time.Duration
	// Timeout aborts a checkpoint that takes longer (default 10 minutes).
	Timeout time.Duration
	// MinPause is the least time between the end of one checkpoint and the
	// start of the next (default 0).
	MinPause time.Duration
	// MaxConcurrent checkpoints in progress (default 1).
	MaxConcurrent int
	// TolerableFailures is how many consecutive failed checkpoints the job
	// tolerates before it fails (default 0... see coordinator; -1 unlimited).
	TolerableFailures int
	// Storage is the location of the job's checkpoint directory: a path,
	// file://, s3://, mem:// (default: a mem:// location, which does not
	// survive the process).
	Storage string
	// Retain is how many complete checkpoints are kept (default 3).
	// Savepoints are never deleted. With Incremental, the checkpoints whose
	// files a kept one builds on are kept too.
	Retain int
	// Incremental makes checkpoints write only the keyed state that changed
	// since the subtask's previous checkpoint (default false): a delta on
	// top of the files of earlier checkpoints, which the checkpoint's
	// metadata lists and retention keeps. A checkpoint's cost then follows
	// the state changed per interval rather than the state held. A subtask
	// starts a new chain with a full snapshot after a restore, after a
	// failed or aborted checkpoint, when the previous checkpoint was not
	// complete when the next began (several concurrent checkpoints), after
	// MaxDeltas deltas, and when the files of its chain hold more than twice
	// as many entries as its state, which bounds both the storage and the
	// restore time to about twice those of a full checkpoint (a state that
	// only grows keeps its chain). Savepoints are always full. A delta's
	// synchronous part (at the barrier) copies the changed entries: about
	// 30-80 ns per entry changed since the previous checkpoint, so about
	// 20-40 ms for a million changed keys (state/BENCHMARKS.md).
	Incremental bool
	// MaxDeltas is the longest chain of deltas on a full snapshot, with
	// Incremental (default 100).
	MaxDeltas int
}

// Config configures a job run.
type Config struct {
	// BatchSize is the number of records per network batch (default 512).
	BatchSize int
	// ChannelCapacity is the number of batches in flight per channel
	// between two subtasks (default 4).
	ChannelCapacity int
	// BufferTimeout bounds how long a record waits in a partly filled batch
	// while the task is busy (default 5ms). An idle task flushes at once.
	BufferTimeout time.Duration
	// Clock is the processing-time clock (default the system clock).
	Clock Clock
	// DriverClock is the clock of the job driver, which schedules
	// checkpoints (Checkpoint.Interval, Timeout and MinPause) and split
	// discovery (connector.EnumeratorContext.Every) (default the system
	// clock). It is apart from Clock, the processing time of operators, so
	// that a test may hold processing time still while checkpoints go on,
	// or script a job's checkpoints.
	DriverClock Clock
	// Logger receives the job's logs (default slog.Default()).
	Logger *slog.Logger
	// Checkpoint configures checkpointing.
	Checkpoint CheckpointConfig
	// Restart decides whether and when a failed job restarts (default: no
	// restart without checkpointing; with checkpointing, fixed delay of 1s
	// for up to 3 attempts... see DefaultRestart).
	Restart restart.Strategy
	// Restore is where the job starts from: "" for a fresh start, "latest"
	// for the newest complete checkpoint in Checkpoint.Storage (fresh when
	// there is none), or the path of a checkpoint or savepoint.
	Restore string
	// AllowNonRestoredState lets a restore skip state of operators the job
	// no longer has (by uid). Without it such a restore is refused.
	AllowNonRestoredState bool
	// Fresh starts the job from scratch although Checkpoint.Storage already
	// holds checkpoints (of an earlier run). Without it, and without
	// Restore, Start refuses such a location with an error wrapping
	// ErrCheckpointsExist: resuming (Restore "latest") or starting over is
	// the user's decision, as starting over repeats output that earlier
	// runs already delivered.
	Fresh bool
	// MaxRepeatedFailures ends the job when it fails the same way (the same
	// operator and message, numbers aside) this many times in a row from
	// the same checkpoint, whatever Restart allows: a failure that comes
	// back that often will not pass by itself. 0 means the default, 3; -1
	// never ends the job for repeating.
	MaxRepeatedFailures int
	// StopTimeout bounds how long Job.Stop waits for the final checkpoint:
	// when it passes, or the final checkpoint fails, the job ends without
	// it and Wait returns an error wrapping ErrStopIncomplete. 0 means the
	// default: Checkpoint.Timeout, at most one minute.
	StopTimeout time.Duration
	// Events receives job events (checkpoint completed, restarts) when set;
	// sends never block, events are dropped when the channel is full.
	Events chan<- JobEvent
	// Hooks are called synchronously at points of the checkpoint protocol,
	// for crash tests (a hook may kill the process).
	Hooks Hooks
}

// Hooks are test hooks into the job driver. Nil hooks are skipped.
type Hooks struct {
	// CheckpointCompleted runs after checkpoint id's metadata is durable
	// and before any task is notified (so before two-phase sinks commit).
	// kind is KindCheckpoint or KindFinal (savepoints commit nothing and
	// do not call it).
	CheckpointCompleted func(id int64, kind CheckpointKind)
	// InflightStored runs after subtask of the operator with uid op wrote
	// records in-flight records that came over an edge with partitioning p
	// for unaligned checkpoint id. It runs in the writing goroutine,
	// possibly concurrently with other hooks.
	InflightStored func(id int64, op string, subtask int, p Partitioning, records int64)
	// InflightReplayed runs after subtask of the operator with uid op
	// replayed records in-flight records of restored checkpoint id that
	// came over an edge with partitioning p, before reading new input. It
	// runs in the task goroutine, possibly concurrently with other hooks.
	InflightReplayed func(id int64, op string, subtask int, p Partitioning, records int64)
}

// JobEvent reports progress of a running job.
type JobEvent struct {
	Kind         string // "checkpoint-completed", "checkpoint-aborted", "restarting", "restored", "inflight-replayed"
	CheckpointID int64
	Path         string
	Err          error
	Time         time.Time
	// Duration is, for "checkpoint-completed", the time from the trigger to
	// completion.
	Duration time.Duration
	// Unaligned is, for "checkpoint-completed", the number of subtasks that
	// took the checkpoint unaligned.
	Unaligned int
	// InflightRecords is the number of in-flight records: stored in the
	// checkpoint ("checkpoint-completed", "restored") or replayed by one
	// subtask ("inflight-replayed").
	InflightRecords int64
	// KeyedDeltas is, for "checkpoint-completed" and "restored", the number
	// of keyed-state files that are incremental deltas (see
	// CheckpointConfig.Incremental), and KeyedBytes the bytes of keyed
	// state the checkpoint wrote ("checkpoint-completed").
	KeyedDeltas int
	KeyedBytes  int64
}

// DefaultRestart is the restart strategy used when checkpointing is on and
// Config.Restart is nil: exponential backoff from 1s up to 1m, giving up
// after 10 failures without a completed checkpoint in between... as
// documented by restart.ExponentialBackoff.
func DefaultRestart() restart.Strategy {
	return restart.ExponentialBackoff(restart.BackoffConfig{Initial: time.Second, Max: time.Minute})
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.BatchSize <= 0 {
		out.BatchSize = 512
	}
	if out.ChannelCapacity <= 0 {
		out.ChannelCapacity = 4
	}
	if out.BufferTimeout <= 0 {
		out.BufferTimeout = 5 * time.Millisecond
	}
	if out.Clock == nil {
		out.Clock = SystemClock{}
	}
	if out.DriverClock == nil {
		out.DriverClock = SystemClock{}
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	cp := &out.Checkpoint
	if cp.Storage == "" {
		cp.Storage = "mem://"
	}
	if cp.Retain <= 0 {
		cp.Retain = 3
	}
	if cp.MaxDeltas <= 0 {
		cp.MaxDeltas = 100
	}
	if cp.Timeout == 0 {
		cp.Timeout = DefaultCheckpointTimeout
	}
	if out.MaxRepeatedFailures == 0 {
		out.MaxRepeatedFailures = DefaultMaxRepeatedFailures
	}
	if out.StopTimeout == 0 {
		out.StopTimeout = min(max(cp.Timeout, 0), time.Minute)
	}
	if out.Restart == nil {
		if cp.Interval > 0 {
			out.Restart = DefaultRestart()
		} else {
			out.Restart = restart.None()
		}
	}
	return out
}

// Defaults of Config and CheckpointConfig.
const (
	DefaultCheckpointTimeout   = coordinator.DefaultTimeout // CheckpointConfig.Timeout (10m)
	DefaultMaxRepeatedFailures = 3                          // Config.MaxRepeatedFailures
)

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("invalid job configuration")

func (c *Config) validate() error {
	if c.Checkpoint.Interval < 0 {
		return fmt.Errorf("%w: checkpoint interval %v is negative", ErrConfig, c.Checkpoint.Interval)
	}
	if c.Checkpoint.Unaligned && c.Checkpoint.Mode != ExactlyOnce {
		return fmt.Errorf("%w: unaligned checkpoints are a variant of exactly-once mode; the mode is %v, which does not align barriers at all: drop Unaligned or use ExactlyOnce", ErrConfig, c.Checkpoint.Mode)
	}
	if c.MaxRepeatedFailures < -1 {
		return fmt.Errorf("%w: MaxRepeatedFailures is %d; use a positive number, 0 for the default (%d) or -1 for no limit", ErrConfig, c.MaxRepeatedFailures, DefaultMaxRepeatedFailures)
	}
	if c.StopTimeout < 0 {
		return fmt.Errorf("%w: StopTimeout %v is negative", ErrConfig, c.StopTimeout)
	}
	if c.Fresh && c.Restore != "" {
		return fmt.Errorf("%w: Fresh and Restore %q contradict each other: choose one", ErrConfig, c.Restore)
	}
	if c.Checkpoint.AlignedTimeout < 0 {
		return fmt.Errorf("%w: aligned timeout %v is negative", ErrConfig, c.Checkpoint.AlignedTimeout)
	}
	if c.Checkpoint.AlignedTimeout > 0 && !c.Checkpoint.Unaligned {
		return fmt.Errorf("%w: an aligned timeout of %v switches slow aligned checkpoints to unaligned, which needs Unaligned set too", ErrConfig, c.Checkpoint.AlignedTimeout)
	}
	if c.Restore != "" && c.Restore != "latest" && c.Checkpoint.Interval == 0 {
		// Restoring without checkpointing is allowed (a savepoint into a job
		// that then runs without checkpoints), nothing to check.
		return nil
	}
	return nil
}
