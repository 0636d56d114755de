package coordinator

import "errors"

// Reasons of aborted checkpoints, wrapped by [Abort].Reason. Use
// [errors.Is] to branch on them.
var (
	// ErrTimeout: the checkpoint did not complete within Config.Timeout.
	// The message lists the subtasks that had not acknowledged it.
	ErrTimeout = errors.New("checkpoint timed out")
	// ErrDeclined: a subtask declined the checkpoint; the subtask's reason
	// is wrapped too.
	ErrDeclined = errors.New("checkpoint declined")
	// ErrStoreFailed: writing the checkpoint's metadata failed; the storage
	// error is wrapped too.
	ErrStoreFailed = errors.New("storing checkpoint metadata failed")
	// ErrSubsumed: a later checkpoint completed first. Not a failure: the
	// later checkpoint covers everything this one would have.
	ErrSubsumed = errors.New("checkpoint subsumed")
	// ErrStopped: the coordinator was stopped with [Coordinator.Stop]; the
	// reason given to Stop is wrapped too. Also returned by
	// [Coordinator.RequestSavepoint] and [Coordinator.RequestFinal] after
	// the coordinator stopped, by Stop or by failing the job.
	ErrStopped = errors.New("checkpoint coordinator stopped")
	// ErrTooManyFailures: more consecutive checkpoints failed than
	// Config.TolerableFailures allows. Wrapped by [FailJob].Err, and by the
	// Reason of the checkpoints aborted because the job fails.
	ErrTooManyFailures = errors.New("too many consecutive checkpoint failures")
)

// ErrTaskNotReady is for subtasks, not returned by the coordinator: a
// [Coordinator.Decline] whose reason wraps it (a subtask not yet running, or
// still restoring, when the barrier came) aborts the checkpoint without
// counting a failure toward Config.TolerableFailures.
var ErrTaskNotReady = errors.New("task not ready for checkpoint")

// ErrFinalRequested is returned by [Coordinator.RequestSavepoint] and
// [Coordinator.RequestFinal] once a final checkpoint has been requested: the
// job is finishing, and the final checkpoint is its last.
var ErrFinalRequested = errors.New("final checkpoint already requested")
