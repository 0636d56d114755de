// Package runtime executes a physical job plan on one machine.
//
// It sits below the logical graph (package graph) and above state, checkpoint,
// eventtime and the connector contracts. Nothing above it executes anything:
// the typed API and the YAML pipelines only build a graph, and the graph
// compiles into a [Plan] that [Run] executes.
//
// # Data plane
//
// A subtask is one goroutine (a task) running a chain of operators fused by
// function calls: an operator hands a record to the next one through an
// [Output], which for a chained successor is a direct method call. Between
// tasks, records travel in typed batches ([Batch]) over bounded Go channels,
// one channel per (sender, receiver) pair, so that a receiver can stop reading
// one input channel (barrier alignment) while the sender is held back by the
// channel's capacity (backpressure). A receiver waits on a single doorbell
// channel shared by all of its inputs; senders ring it after each send. There
// is one channel operation per batch, never per record.
//
// Control events travel in-band, in order with the records: watermarks,
// watermark status (idle/active), checkpoint barriers and end of input. A
// batch is cut at a control event, when it is full, or when the buffer
// timeout passes with records pending.
//
// # Checkpoints and barrier alignment
//
// The checkpoint coordinator (package checkpoint/coordinator) decides when
// checkpoints are triggered, completed and aborted; the job driver executes
// its decisions. The driver is one goroutine per attempt that takes in the
// tasks' events (acks, declines, failures, the end of a source), the
// wake-ups of its clock (Config.DriverClock) and the user's requests
// (savepoint, stop), and does everything with the coordinator, the split
// enumerators and the checkpoint bookkeeping; the scripts in
// testdata/driver take it step by step. Each task with network inputs has an aligner: a state
// machine without I/O or clock (events in: a barrier on a channel, the
// aligned timeout of a checkpoint, an abort by the coordinator; decisions
// out: snapshot, decline, discard, arm the timeout, complete), tested by
// the scripts in testdata/aligner. How it treats barriers depends on the
// mode ([CheckpointConfig]):
//
//   - At-least-once: nothing is blocked; the snapshot is taken when the
//     barrier arrived on every channel.
//   - Exactly-once, aligned (the default): a channel that delivered barrier
//     n is not read until barrier n arrived on every channel; then the task
//     snapshots its operators and forwards the barrier.
//   - Exactly-once, unaligned ([CheckpointConfig.Unaligned]): the task
//     snapshots and forwards the barrier as soon as the first barrier of n
//     arrives, and blocks nothing. From then on, every record that arrives
//     on a channel whose barrier n has not arrived yet is processed as
//     usual and also captured as in-flight record (channel state) of
//     checkpoint n. When the last barrier of n arrived, the captured
//     records are written, like keyed state, by another goroutine as one
//     file of the head operator's subtask, and only then is n acknowledged.
//   - Exactly-once, aligned with a timeout ([CheckpointConfig.AlignedTimeout]
//     with Unaligned): every checkpoint starts aligned; the first barrier of
//     n arms a processing-time timer (the task's timer service, on
//     Config.Clock) and when it fires before alignment finished the task
//     switches n to unaligned: it snapshots, releases the blocked channels
//     and captures the others.
//
// Savepoints and final checkpoints are always aligned: they never hold
// in-flight records, so a savepoint can be restored into any job version
// or parallelism the state allows. At most one checkpoint is aligned or
// captured by a task at a time: a barrier of a newer checkpoint declines
// the older one (its captured records are dropped). With MaxConcurrent > 1
// a fast channel can thus make unaligned checkpoints fail; keep it at 1.
//
// Unaligned here is unaligned on the input side only. A barrier cannot
// overtake batches already queued in a Go channel, nor the records pending
// in a sender's output batches: a task forwards the barrier at once, but it
// reaches the next task only behind everything the task sent before. Under
// backpressure, the time a barrier takes through the job still grows with
// the data queued on its path (at most ChannelCapacity batches per channel
// and hop), but no task waits for its slowest input channel any more, and
// no input is blocked, which is what makes aligned checkpoints stall and
// back up the job when one input lags.
//
// In-flight records are encoded with state.DefaultCodec of the edge's type
// plus the timestamp, and for hash-partitioned edges the record's key
// group. Composite types fall back to JSON there: only exported struct
// fields survive. A job with unaligned checkpoints whose network edges
// carry a type that would not round-trip (unexported fields, interfaces,
// channels, functions, complex numbers) is refused with [ErrConfig] unless
// the type marshals itself (encoding/json or encoding.TextMarshaler); the
// author of such methods answers for their fidelity. A value that fails to
// encode at run time (a NaN inside a JSON-encoded struct) declines the
// checkpoint.
//
// On restore, the head operator's subtask replays its restored in-flight
// records, per input edge and in the order they arrived, into its input
// before it reads any new input. At the same parallelism subtask i replays
// old subtask i's records. When the parallelism changed, a new subtask
// replays the records of hash-partitioned edges of every old subtask whose
// key group it owns, and the records of forward and rebalance edges of old
// subtask j go to new subtask j mod parallelism. In-flight records of a
// broadcast edge cannot be redistributed: such a restore with a changed
// parallelism is refused with [ErrStateMismatch], as is one whose edge
// no longer exists, changed its type, or changed between keyed and not
// keyed; restore from an aligned checkpoint or a savepoint instead.
// Checkpoint metadata that lists in-flight records has version 2, so that
// a sluice that does not know them refuses it instead of dropping them.
//
// # Metrics
//
// [Job.Metrics] returns the records in and out of every operator subtask
// ([OperatorMetrics]). The counting costs little on the per-record path:
// chained calls and fan-outs increment a plain field of the output an
// operator emits through, network writers count per batch sent, and input
// gates per batch received. Each task goroutine adds what changed to the
// Job's atomic counters when it sends its output batches and when it ends.
// The counters belong to the Job, not to an attempt, so the counts go on
// across in-process restarts: they count work done, including records
// processed again after a restore.
//
// # Lock order
//
// Tasks share no mutable state with each other except through channels. The
// job driver ([Run]) owns the checkpoint coordinator; tasks talk to it only by
// messages. The only locks are inside the per-checkpoint bookkeeping
// (checkpointRun.mu) and are never held while sending on a channel.
package runtime
