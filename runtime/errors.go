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
