package coordinator

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/checkpoint"
)

// Coordinator is the checkpoint coordinator's state machine for one
// attempt of one job. See the package documentation for the protocol. It is
// not safe for concurrent use.
type Coordinator struct {
	cfg   Config // defaults applied
	tasks []TaskID
	index map[TaskID]int // into tasks

	now time.Time // the latest time seen

	nextID  int64
	pending []*pending // ascending ids
	queue   []request  // requested, not yet triggered, in id order

	nextPeriodic time.Time // when the next periodic checkpoint is due
	lastSettled  time.Time // when the last checkpoint completed or aborted
	settled      bool      // whether lastSettled is set

	latestCompleted int64
	failures        int // consecutive failures counted
	finalRequested  bool
	stopped         bool

	actions []Action
}

// New returns a Coordinator for a job whose subtasks are tasks: every one of
// them must acknowledge every checkpoint. now is the time the job (attempt)
// starts; the first periodic checkpoint is due cfg.Interval later. New
// returns an error wrapping [ErrInvalidConfig] if cfg is invalid or tasks is
// empty or holds a TaskID twice.
func New(cfg Config, tasks []TaskID, now time.Time) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new checkpoint coordinator: %w", err)
	}
	if len(tasks) == 0 {
		return nil, fmt.Errorf("new checkpoint coordinator: %w: no subtasks to acknowledge checkpoints", ErrInvalidConfig)
	}
	c := &Coordinator{
		cfg:   cfg.withDefaults(),
		tasks: slices.SortedFunc(slices.Values(tasks), compareTasks),
		index: make(map[TaskID]int, len(tasks)),
		now:   now,
	}
	for i, t := range c.tasks {
		if _, dup := c.index[t]; dup {
			return nil, fmt.Errorf("new checkpoint coordinator: %w: subtask %v listed twice", ErrInvalidConfig, t)
		}
		c.index[t] = i
	}
	c.nextID = c.cfg.FirstID
	c.nextPeriodic = now.Add(c.cfg.Interval)
	return c, nil
}

// Tick tells the coordinator that time passed: it times out checkpoints and
// triggers the periodic or queued ones that are due. The runtime calls it at
// [Coordinator.NextDeadline]; calling it at other times is harmless.
func (c *Coordinator) Tick(now time.Time) {
	c.observe(now)
}

// Ack records that subtask t finished its snapshot for checkpoint id. When
// the last subtask acknowledged, a [Store] action follows. Acks for unknown,
// settled or already stored checkpoints, from subtasks not in the set given
// to New, and repeated acks are ignored.
func (c *Coordinator) Ack(id int64, t TaskID, now time.Time) {
	c.observe(now)
	if p, i := c.lookup(id, t); p != nil && !p.storing && !p.acked[i] {
		p.acked[i] = true
		p.nAcked++
		if p.nAcked == len(c.tasks) {
			p.storing = true
			c.emit(Store{ID: p.id, Kind: p.kind})
		}
	}
	c.advance()
}

// Decline records that subtask t could not snapshot checkpoint id, for
// reason, and aborts the checkpoint. It counts as a failure unless id is a
// savepoint or reason wraps [ErrTaskNotReady]. Declines for unknown or
// settled checkpoints and from subtasks not in the set given to New are
// ignored.
func (c *Coordinator) Decline(id int64, t TaskID, reason error, now time.Time) {
	c.observe(now)
	if p, _ := c.lookup(id, t); p != nil {
		var why error
		if reason == nil {
			why = fmt.Errorf("%w by subtask %v", ErrDeclined, t)
		} else {
			why = fmt.Errorf("%w by subtask %v: %w", ErrDeclined, t, reason)
		}
		c.abort(p, why, !errors.Is(reason, ErrTaskNotReady))
	}
	c.advance()
}

// Fail reports that the runtime itself could not take checkpoint id, not
// one of its subtasks: the storage refused to begin it, or a split
// enumerator could not snapshot. The checkpoint is aborted with reason and,
// unless it is a savepoint, counts as a failure, as a [Coordinator.Decline]
// does. Fail for an id that is not pending is ignored.
func (c *Coordinator) Fail(id int64, reason error, now time.Time) {
	c.observe(now)
	if p := c.find(id); p != nil && !c.stopped {
		c.abort(p, fmt.Errorf("checkpoint %d could not be taken: %w", id, reason), true)
	}
	c.advance()
}

// Stored reports that the runtime finished writing the metadata of
// checkpoint id after a [Store] action: with err == nil the checkpoint is
// complete (a [Complete] action follows, then the Aborts of the checkpoints
// it subsumes); otherwise it is aborted and counts as a failure unless it is
// a savepoint. Stored for an id that is not waiting for its metadata (unknown,
// settled, for example timed out while storing, or not yet fully
// acknowledged) is ignored.
func (c *Coordinator) Stored(id int64, err error, now time.Time) {
	c.observe(now)
	if p := c.find(id); p != nil && p.storing {
		if err != nil {
			c.abort(p, fmt.Errorf("%w: %w", ErrStoreFailed, err), true)
		} else {
			c.complete(p)
		}
	}
	c.advance()
}

// RequestSavepoint requests a savepoint and returns its id. It triggers at
// once, whatever Config.Interval and Config.MinPause say, unless
// Config.MaxConcurrent checkpoints are pending: then it is queued and
// triggered as soon as one settles, before any periodic checkpoint. The
// returned id is settled by a [Complete] or an [Abort] of kind
// [checkpoint.KindSavepoint]. RequestSavepoint returns [ErrStopped] once the
// coordinator stopped and [ErrFinalRequested] once a final checkpoint was
// requested.
func (c *Coordinator) RequestSavepoint(now time.Time) (int64, error) {
	return c.request(checkpoint.KindSavepoint, now)
}

// RequestFinal requests the final checkpoint, for when every bounded input
// has ended, so that two-phase sinks commit everything before the job
// finishes. It triggers like a savepoint (see
// [Coordinator.RequestSavepoint]); no periodic checkpoint triggers after it
// was requested. Checkpoints pending at the request still complete or abort
// as usual.
//
// If the final checkpoint fails, it counts as a failure and, unless that
// fails the job, another final checkpoint with a new id is triggered like a
// periodic one would be: Config.Interval after the failed one was triggered
// (if Interval is not 0) and Config.MinPause after it failed. The job may
// finish once a [Complete] of kind [checkpoint.KindFinal] comes, whatever
// its id.
//
// RequestFinal returns the id of the first attempt, [ErrStopped] once the
// coordinator stopped and [ErrFinalRequested] if it was called before.
func (c *Coordinator) RequestFinal(now time.Time) (int64, error) {
	return c.request(checkpoint.KindFinal, now)
}

// Stop stops the coordinator, for example because the job is cancelled or
// is failing for a reason of its own: every pending and queued checkpoint is
// aborted with a reason wrapping [ErrStopped] and reason (if not nil), none
// counts as a failure, and nothing is triggered any more. Events after Stop
// are ignored; stopping again does nothing.
func (c *Coordinator) Stop(reason error) {
	if c.stopped {
		return
	}
	why := ErrStopped
	if reason != nil {
		why = fmt.Errorf("%w: %w", ErrStopped, reason)
	}
	c.stopAll(why, false)
}

// Ready returns the actions to carry out, in order, and forgets them: the
// next call returns only newer ones.
func (c *Coordinator) Ready() []Action {
	a := c.actions
	c.actions = nil
	return a
}

// NextDeadline returns the next time at which [Coordinator.Tick] has
// something to do (a timeout or a trigger that only time can cause), or
// ok=false if there is none; an event may bring the deadline forward, so
// the runtime asks again after each one. The deadline is always after the
// latest time seen.
func (c *Coordinator) NextDeadline() (deadline time.Time, ok bool) {
	if c.stopped {
		return time.Time{}, false
	}
	consider := func(t time.Time) {
		if !ok || t.Before(deadline) {
			deadline, ok = t, true
		}
	}
	for _, p := range c.pending {
		consider(p.triggered.Add(c.cfg.Timeout))
	}
	if c.slotFree() && len(c.queue) > 0 {
		if q := c.queue[0]; q.notBefore.After(c.now) {
			consider(q.notBefore)
		}
	}
	if at, due := c.periodicAt(); due {
		consider(at)
	}
	return deadline, ok
}

// Pending returns the ids of the triggered checkpoints that have not
// settled yet, ascending.
func (c *Coordinator) Pending() []int64 {
	ids := make([]int64, len(c.pending))
	for i, p := range c.pending {
		ids[i] = p.id
	}
	return ids
}

// LatestCompleted returns the id of the latest checkpoint of kind
// [checkpoint.KindCheckpoint] or [checkpoint.KindFinal] completed by this
// Coordinator, or 0 if none has. Savepoints are not counted.
func (c *Coordinator) LatestCompleted() int64 { return c.latestCompleted }

// observe moves the coordinator's time to now, unless now is earlier, and
// does what became due by then, so that an event is handled after the
// timeouts and triggers that precede it.
func (c *Coordinator) observe(now time.Time) {
	if now.After(c.now) {
		c.now = now
	}
	c.advance()
}

// advance does what is due at c.now: timeouts, then queued requests, then
// the periodic checkpoint.
func (c *Coordinator) advance() {
	if c.stopped {
		return
	}
	// Collect first: aborting changes c.pending, and may stop c.
	var expired []*pending
	for _, p := range c.pending {
		if !c.now.Before(p.triggered.Add(c.cfg.Timeout)) {
			expired = append(expired, p)
		}
	}
	for _, p := range expired {
		if c.stopped {
			return
		}
		what := ": " + p.missing(c.tasks)
		if p.storing {
			what = " while storing its metadata"
		}
		c.abort(p, fmt.Errorf("%w after %v%s", ErrTimeout, c.cfg.Timeout, what), true)
	}
	if c.stopped {
		return
	}
	for len(c.queue) > 0 && c.slotFree() && !c.now.Before(c.queue[0].notBefore) {
		q := c.queue[0]
		c.queue = c.queue[1:]
		c.trigger(q.id, q.kind)
	}
	if at, due := c.periodicAt(); due && !c.now.Before(at) {
		id := c.nextID
		c.nextID++
		c.trigger(id, checkpoint.KindCheckpoint)
		c.nextPeriodic = c.now.Add(c.cfg.Interval)
	}
}

// periodicAt returns when the next periodic checkpoint may trigger, or
// false if none will (periodic checkpoints off, coordinator stopped, final
// requested) or only an event can let one (no free slot, requests queued).
func (c *Coordinator) periodicAt() (time.Time, bool) {
	if c.stopped || c.cfg.Interval == 0 || c.finalRequested || len(c.queue) > 0 || !c.slotFree() {
		return time.Time{}, false
	}
	at := c.nextPeriodic
	if c.settled {
		if p := c.lastSettled.Add(c.minPause()); p.After(at) {
			at = p
		}
	}
	return at, true
}

func (c *Coordinator) slotFree() bool { return len(c.pending) < c.cfg.MaxConcurrent }

func (c *Coordinator) request(kind checkpoint.Kind, now time.Time) (int64, error) {
	c.observe(now)
	switch {
	case c.stopped:
		return 0, fmt.Errorf("request %v: %w", kind, ErrStopped)
	case c.finalRequested:
		return 0, fmt.Errorf("request %v: %w", kind, ErrFinalRequested)
	}
	id := c.nextID
	c.nextID++
	c.queue = append(c.queue, request{id: id, kind: kind})
	if kind == checkpoint.KindFinal {
		c.finalRequested = true
	}
	c.advance()
	return id, nil
}

func (c *Coordinator) trigger(id int64, kind checkpoint.Kind) {
	c.pending = append(c.pending, &pending{
		id:        id,
		kind:      kind,
		triggered: c.now,
		acked:     make([]bool, len(c.tasks)),
	})
	c.emit(Trigger{ID: id, Timestamp: c.now, Kind: kind})
}

// complete settles p as complete and aborts the checkpoints it subsumes.
func (c *Coordinator) complete(p *pending) {
	c.remove(p)
	c.emit(Complete{ID: p.id, Kind: p.kind})
	if p.kind == checkpoint.KindSavepoint {
		return
	}
	c.latestCompleted = p.id
	c.failures = 0
	var subsumed []*pending
	for _, q := range c.pending {
		if q.id < p.id && q.kind != checkpoint.KindSavepoint {
			subsumed = append(subsumed, q)
		}
	}
	for _, q := range subsumed {
		c.abort(q, fmt.Errorf("%w by checkpoint %d", ErrSubsumed, p.id), false)
	}
}

// abort settles p as aborted for why. If failure is set and p is not a
// savepoint, it counts toward TolerableFailures, which may fail the job. A
// final checkpoint that is aborted while the coordinator keeps running is
// requested again.
func (c *Coordinator) abort(p *pending, why error, failure bool) {
	c.remove(p)
	c.emit(Abort{ID: p.id, Kind: p.kind, Reason: why})
	if failure && p.kind != checkpoint.KindSavepoint {
		// Completing n subsumes every pending checkpoint below n, so a
		// failure is always newer than LatestCompleted: it breaks the
		// current run of successes.
		c.failures++
		if tol := c.cfg.TolerableFailures; tol != UnlimitedFailures && c.failures > tol {
			c.stopAll(fmt.Errorf("%w: %d failed in a row, TolerableFailures is %d; last: checkpoint %d: %w",
				ErrTooManyFailures, c.failures, tol, p.id, why), true)
			return
		}
	}
	if p.kind == checkpoint.KindFinal && !c.stopped {
		retry := c.now.Add(c.minPause())
		if c.cfg.Interval > 0 {
			if t := p.triggered.Add(c.cfg.Interval); t.After(retry) {
				retry = t
			}
		}
		id := c.nextID
		c.nextID++
		c.queue = append(c.queue, request{id: id, kind: checkpoint.KindFinal, notBefore: retry})
	}
}

// stopAll aborts every pending and queued checkpoint with why and stops the
// coordinator; if failJob is set a FailJob with why follows.
func (c *Coordinator) stopAll(why error, failJob bool) {
	c.stopped = true
	for _, p := range c.pending {
		c.emit(Abort{ID: p.id, Kind: p.kind, Reason: why})
	}
	for _, q := range c.queue {
		c.emit(Abort{ID: q.id, Kind: q.kind, Reason: why})
	}
	c.pending, c.queue = nil, nil
	if failJob {
		c.emit(FailJob{Err: why})
	}
}

// minPause returns the MinPause in force: none when several checkpoints may
// run at once.
func (c *Coordinator) minPause() time.Duration {
	if c.cfg.MaxConcurrent > 1 {
		return 0
	}
	return c.cfg.MinPause
}

func (c *Coordinator) remove(p *pending) {
	c.pending = slices.DeleteFunc(c.pending, func(q *pending) bool { return q == p })
	c.lastSettled, c.settled = c.now, true
}

func (c *Coordinator) find(id int64) *pending {
	for _, p := range c.pending {
		if p.id == id {
			return p
		}
	}
	return nil
}

// lookup returns the pending checkpoint id and the index of t, or nil if
// either is unknown or the coordinator stopped.
func (c *Coordinator) lookup(id int64, t TaskID) (*pending, int) {
	i, ok := c.index[t]
	if !ok || c.stopped {
		return nil, 0
	}
	return c.find(id), i
}

func (c *Coordinator) emit(a Action) { c.actions = append(c.actions, a) }
