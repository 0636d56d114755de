// Package checkpoint is the root of sluice's checkpointing: package
// checkpoint/coordinator decides when checkpoints are taken, completed and
// aborted, package checkpoint/storage keeps them. This package holds what
// both and the runtime above them share, the kind of a checkpoint, so that
// the layers agree on it without converting.
package checkpoint

import "strconv"

// Kind says why a checkpoint was taken, which decides how it is stored,
// whether it commits side effects and whether its failure counts toward
// the tolerated checkpoint failures.
type Kind uint8

// Kinds of checkpoint. The values of KindCheckpoint and KindSavepoint are
// part of the checkpoint storage's _metadata format.
const (
	// KindCheckpoint is a periodic checkpoint. Its completion is notified
	// to the subtasks (two-phase sinks commit) and it is used for failure
	// recovery. It is stored in chk-<n>/, considered by the latest-restore
	// and deleted by retention.
	KindCheckpoint Kind = iota + 1
	// KindSavepoint is a checkpoint requested by the user. It is stored
	// apart from checkpoints (savepoint-<n>-<suffix>/), restored only by
	// explicit path and never deleted by retention; its completion is
	// reported to the requester only (no side effects are committed), it
	// is not used for failure recovery, it is never subsumed and its
	// failure is not counted as a checkpoint failure.
	KindSavepoint
	// KindFinal is the last checkpoint of a job whose bounded inputs have
	// all ended, or that is stopped: two-phase sinks commit everything when
	// it completes, and then the job may finish. It is stored and notified
	// like a KindCheckpoint (storage records it as one).
	KindFinal
)

// String returns "checkpoint", "savepoint" or "final".
func (k Kind) String() string {
	switch k {
	case KindCheckpoint:
		return "checkpoint"
	case KindSavepoint:
		return "savepoint"
	case KindFinal:
		return "final"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}
