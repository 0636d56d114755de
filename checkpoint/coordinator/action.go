package coordinator

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/checkpoint"
)

// Action is a decision of the Coordinator that the runtime must carry out,
// in the order [Coordinator.Ready] returns them. It is one of [Trigger],
// [Store], [Complete], [Abort] and [FailJob].
type Action interface {
	// String describes the action for logs and tests.
	String() string
	isAction()
}

// Trigger starts checkpoint ID: the runtime injects barrier ID, with
// Timestamp, at every source subtask; each subtask snapshots its state on
// the barrier and calls [Coordinator.Ack] (or [Coordinator.Decline]).
type Trigger struct {
	ID        int64
	Timestamp time.Time // the time the checkpoint was triggered
	Kind      checkpoint.Kind
}

// Store says that every subtask acknowledged checkpoint ID: the runtime
// writes its metadata, last and atomically, then calls
// [Coordinator.Stored]. Kind tells where a savepoint goes.
type Store struct {
	ID   int64
	Kind checkpoint.Kind
}

// Complete says that checkpoint ID is complete and durable. For
// [checkpoint.KindCheckpoint] and [checkpoint.KindFinal] the runtime
// notifies every subtask (notifications are subsuming: completing ID covers
// every id below it) and may delete older checkpoints by retention; after a
// final checkpoint completes the job may finish. For
// [checkpoint.KindSavepoint] the runtime tells the requester and notifies
// no subtask.
type Complete struct {
	ID   int64
	Kind checkpoint.Kind
}

// Abort says that checkpoint ID will never complete: the runtime notifies
// every subtask (for a savepoint, tells the requester, with Reason) and
// discards the checkpoint's files, including any a Store in flight for ID
// is still writing; a Stored for ID that comes later is ignored. ID may
// never have been triggered (a request still queued when the coordinator
// stopped), in which case there is nothing to notify or discard.
type Abort struct {
	ID     int64
	Kind   checkpoint.Kind
	Reason error // wraps ErrTimeout, ErrDeclined, ErrStoreFailed, ErrSubsumed, ErrStopped or ErrTooManyFailures
}

// FailJob says that the job must fail with Err, which wraps
// ErrTooManyFailures and the reason of the last failed checkpoint. It comes
// after the Aborts of every pending checkpoint; the coordinator is stopped
// and does nothing more. The runtime restarts the job (according to its
// restart strategy) with a new Coordinator.
type FailJob struct {
	Err error
}

func (Trigger) isAction()  {}
func (Store) isAction()    {}
func (Complete) isAction() {}
func (Abort) isAction()    {}
func (FailJob) isAction()  {}

// String returns "trigger id=<ID> kind=<Kind>".
func (a Trigger) String() string { return fmt.Sprintf("trigger id=%d kind=%v", a.ID, a.Kind) }

// String returns "store id=<ID> kind=<Kind>".
func (a Store) String() string { return fmt.Sprintf("store id=%d kind=%v", a.ID, a.Kind) }

// String returns "complete id=<ID> kind=<Kind>".
func (a Complete) String() string { return fmt.Sprintf("complete id=%d kind=%v", a.ID, a.Kind) }

// String returns "abort id=<ID> kind=<Kind> reason=<quoted Reason>".
func (a Abort) String() string {
	return fmt.Sprintf("abort id=%d kind=%v reason=%q", a.ID, a.Kind, errString(a.Reason))
}

// String returns "fail-job err=<quoted Err>".
func (a FailJob) String() string { return fmt.Sprintf("fail-job err=%q", errString(a.Err)) }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
