// Package connector defines the contracts between sluice and external
// systems: sources (splits, enumerators, readers), sinks (writers, and the
// two-phase commit protocol for exactly-once delivery), and the delivery
// guarantee each connector declares for its configuration.
//
// It sits at the bottom of the layers: connectors (connector/<system>)
// implement these interfaces and know nothing of the runtime; the runtime
// drives them. The shape follows database/sql/driver: a small core
// interface per role, optional capabilities as separate interfaces checked
// at run time.
//
// # Sources
//
// A source's work is cut into splits (a file, a Kafka partition, a shard).
// An [Enumerator], running once per job in the job's coordinating
// goroutine, discovers splits and assigns them to [Reader]s, one per source
// subtask. A reader's progress lives in the splits it returns from
// SnapshotState, so splits can move between subtasks on failover and
// rescale. What is not a split's progress (acknowledgements pending until a
// checkpoint completes, ids for deduplication) is reader state
// ([StatefulReader]), which goes to one subtask whole on rescale. Each
// split has its own watermark generator when the job uses event time
// ([ReaderOutput.Split]). A reader's goroutines of its own end with
// [ReaderContext.Context].
//
// A failure restarts every reader and the enumerator from the last
// completed checkpoint; no split is handed back by hand (see [Enumerator]).
// Acknowledgements to the external system happen only once the checkpoint
// that holds the records' effects is complete (see [Reader]).
//
// # Sinks
//
// An at-least-once sink's [Writer] writes records and, on every checkpoint
// barrier, Flush returns only when everything written before is durable in
// the target. An exactly-once sink's writer also implements [PreCommitter]:
// on the barrier it pre-commits and returns committables that go into the
// checkpoint; the sink's [Committer] commits them once the checkpoint is
// complete, told which checkpoint that is.
//
// # Failures
//
// The classification of errors is part of the contract (errors.go): a
// connector returns an error that a retry cannot fix as permanent, marked
// with [Permanent] or wrapping one of [ErrRejected] (the target refuses
// the configuration: a missing topic or index, refused credentials),
// [ErrConfig] (a configuration that cannot work), [ErrBadRecord] (a
// record that cannot be decoded and has no dead-letter output; see
// [ReaderOutput.Reject]), [ErrDataLoss] (committed data may not reach the
// target: an expired or fenced transaction) or [ErrOutputAhead] (an
// exactly-once sink asked to resume behind output it already committed).
// [IsPermanent] tells them apart. The runtime restarts the job after any
// other error and ends it at once after a permanent one, whose message must
// then say what failed, where, and what to change.
//
// # The registry
//
// A connector package registers itself from init, as database/sql drivers
// do: [Register] adds its rows to the table of connectors (README,
// `sluice connectors`), and [RegisterSource] and [RegisterSink] make its
// types available to YAML pipelines, each with a typed configuration
// that declares the guarantee it gives and builds the source or sink
// (config.go). Package pipeline knows no connector: a program that imports
// a connector package, its own included, can use it from YAML. A
// configuration may say more, as optional interfaces: the fields of its
// records ([Typed]), records written in the file ([Listed]), and ids to
// deduplicate its records by ([Deduplicated]).
package connector
