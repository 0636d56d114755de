package runtime

import (
	"errors"
	"fmt"
)

// OperatorError is the error of a failed operator subtask: a user function
// returned an error or panicked, or a connector failed.
type OperatorError struct {
	Operator string
	Subtask  int
	Err      error
	// Stack is set when the error is a recovered panic.
	Stack string
}

func (e *OperatorError) Error() string {
	if e.Stack != "" {
		return fmt.Sprintf("operator %q (subtask %d) panicked: %v", e.Operator, e.Subtask, e.Err)
	}
	return fmt.Sprintf("operator %q (subtask %d): %v", e.Operator, e.Subtask, e.Err)
}

func (e *OperatorError) Unwrap() error { return e.Err }

// PanicError is the Err of an OperatorError for a recovered panic.
type PanicError struct{ Value any }

func (p *PanicError) Error() string { return fmt.Sprint(p.Value) }

// ErrJobCancelled is the cause of cancellation when one task failed and the
// others are being stopped.
var errTaskFailed = errors.New("another task failed")

// ErrStopIncomplete is wrapped by the error of a job that was asked to stop
// (Job.Stop) and ended without its final checkpoint: the final checkpoint
// failed, Config.StopTimeout passed, or the stop came while the job was
// waiting to restart after a failure. Its output is what the last complete
// checkpoint committed; a restore resumes from there.
var ErrStopIncomplete = errors.New("stopped without a final checkpoint")

// ErrRepeatedFailure is wrapped by the error of a job that failed the same
// way Config.MaxRepeatedFailures times in a row from the same checkpoint.
var ErrRepeatedFailure = errors.New("the same failure keeps coming back")

// ErrCheckpointsExist is wrapped by the error of Start when the checkpoint
// storage already holds checkpoints and the job was asked neither to
// restore (Config.Restore) nor to start over (Config.Fresh). It wraps
// ErrConfig.
var ErrCheckpointsExist = fmt.Errorf("%w: the checkpoint storage already holds checkpoints", ErrConfig)
