// Package coordinator decides when a sluice job's checkpoints are triggered,
// completed and aborted, and when too many failed checkpoints must fail the
// job.
//
// It sits in the checkpoint layer: the runtime drives it, and it depends on
// nothing else in sluice. It is a pure state machine in the style of
// etcd-io/raft: no I/O, no goroutines, no clock. The runtime feeds it events,
// each stamped with the current time, and executes the [Action]s it returns,
// in order:
//
//	c, err := coordinator.New(cfg, tasks, clock.Now())
//	...
//	for {
//		for _, a := range c.Ready() {
//			switch a := a.(type) {
//			case coordinator.Trigger:  // inject barrier a.ID at every source
//			case coordinator.Store:    // write the metadata of a.ID last, then call c.Stored
//			case coordinator.Complete: // notify every subtask that a.ID completed
//			case coordinator.Abort:    // notify every subtask; discard a.ID's files
//			case coordinator.FailJob:  // fail the job with a.Err
//			}
//		}
//		deadline, ok := c.NextDeadline() // arm a timer for c.Tick if ok
//		// wait for a timer (c.Tick) or an event from a subtask (c.Ack,
//		// c.Decline), from storage (c.Stored) or from the user
//		// (c.RequestSavepoint, c.RequestFinal, c.Stop)
//	}
//
// # Life of a checkpoint
//
// A checkpoint is triggered (a [Trigger] action), then every subtask in the
// set given to [New] acknowledges it ([Coordinator.Ack]) once its snapshot is
// durable. When the last acknowledgement is in, the coordinator asks the
// runtime to write the checkpoint's metadata ([Store]); only when the runtime
// reports that the metadata is durable ([Coordinator.Stored] with a nil
// error) is the checkpoint complete ([Complete]). At any point before, it may
// be aborted ([Abort]): a subtask declined it, it timed out, storing its
// metadata failed, a later checkpoint completed first (it was subsumed), or
// the coordinator was stopped.
//
// Every id carried by a Trigger, or returned by [Coordinator.RequestSavepoint]
// or [Coordinator.RequestFinal], is settled by exactly one Complete or one
// Abort. An Abort may settle an id that was never triggered: a savepoint or
// final checkpoint that was still queued when the coordinator stopped.
//
// # Ordering guarantees
//
// Ids are strictly increasing in the order of their Trigger actions, and a
// restored job continues above the ids of its previous attempts (see
// [Config.FirstID]). Checkpoints of kind [checkpoint.KindCheckpoint] and
// [checkpoint.KindFinal] complete in increasing id order: completing n
// aborts every pending checkpoint or final checkpoint below n with a reason
// wrapping [ErrSubsumed], so Complete notifications are subsuming, as in
// Flink.
//
// Savepoints are different. As in Flink since 1.15, a savepoint is a copy of
// the job's state for the user: it does not commit side effects (the runtime
// reports its completion to the requester but does not notify the subtasks,
// so two-phase sinks commit what they pre-committed for it with the next
// checkpoint), it is not used for failure recovery, it is never subsumed,
// its completion does not count as checkpoint progress and its failure does
// not count toward [Config.TolerableFailures].
//
// # Triggering
//
// Periodic checkpoints are due every [Config.Interval], at most
// [Config.MaxConcurrent] at a time and, when MaxConcurrent is 1, no sooner
// than [Config.MinPause] after the previous checkpoint settled. A periodic
// checkpoint that is due but blocked is triggered as soon as it is allowed,
// and the next one is due Interval after it: missed periods are not caught up
// in a burst.
//
// Savepoints and final checkpoints are requested. A request ignores Interval
// and MinPause but respects MaxConcurrent: if the limit is reached it is
// queued and triggered, in request order, as soon as a checkpoint settles.
// Queued requests go before any periodic checkpoint. (Flink lets a savepoint
// exceed the concurrency limit; sluice does not, so that MaxConcurrent is a
// real bound on the snapshots in flight.)
//
// # Time
//
// Every event carries the time it happened, and the coordinator first does
// whatever became due by then (timeouts, triggers) before handling the event
// itself. [Coordinator.Tick] is the event "time passed"; the runtime calls it
// at [Coordinator.NextDeadline]. A time earlier than one already seen is
// taken as the latest time seen, so a clock stepping backwards cannot undo a
// timeout. Use a monotonic clock.
//
// # Concurrency
//
// A Coordinator is not safe for concurrent use; the runtime owns it from one
// goroutine.
package coordinator
