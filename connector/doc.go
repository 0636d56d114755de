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
// subtask. A reader's whole progress lives in the splits it returns from
// SnapshotState, so splits can move between subtasks on failover and
// rescale. Each split has its own watermark generator when the job uses
// event time ([ReaderOutput.Split]).
//
// # Sinks
//
// An at-least-once sink's [Writer] writes records and, on every checkpoint
// barrier, Flush returns only when everything written before is durable in
// the target. An exactly-once sink's writer also implements [PreCommitter]:
// on the barrier it pre-commits and returns committables that go into the
// checkpoint; the sink's [Committer] commits them once the checkpoint is
// complete.
package connector
