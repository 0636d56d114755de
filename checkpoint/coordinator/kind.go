package coordinator

import "strconv"

// Kind says why a checkpoint was taken, which decides how it is stored,
// whether it commits side effects and whether its failure counts toward
// Config.TolerableFailures.
type Kind uint8

// Kinds of checkpoint.
const (
	// KindCheckpoint is a periodic checkpoint. Its completion is notified
	// to the subtasks (two-phase sinks commit) and it is used for failure
	// recovery.
	KindCheckpoint Kind = iota + 1
	// KindSavepoint is a checkpoint requested by the user. It is stored
	// apart from checkpoints, its completion is reported to the requester
	// only (no side effects are committed), it is not used for failure
	// recovery, it is never subsumed and its failure does not count
	// toward Config.TolerableFailures.
	KindSavepoint
	// KindFinal is the last checkpoint of a job whose bounded inputs have
	// all ended, requested so that two-phase sinks commit everything before
	// the job finishes. It is stored and notified like a KindCheckpoint;
	// once it completes the job may finish.
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
