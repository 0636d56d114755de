package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
	"github.com/sluicehq/sluice/connector"
)

// run drives the attempt: it starts the tasks, and then handles their
// events, the wake-ups of the driver clock (Config.DriverClock) and control
// requests until the attempt ends. Each step is a method of its own (start,
// handle, tick, control, settle), so that a test can take them one by one.
func (a *attempt) run() (err error) {
	defer func() { err = a.shutdown(err) }()
	a.startTasks()
	if err := a.start(); err != nil {
		return err
	}
	wake := make(chan struct{}, 1)
	var timer Stopper
	var armed time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if done, err := a.settle(); done {
			return err
		}
		// The clock timer is armed for the next wake-up, and re-armed only
		// when that changes.
		if at, ok := a.nextWake(); !ok || timer == nil || !at.Equal(armed) {
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			if ok {
				armed = at
				timer = a.clock.AfterFunc(max(at.Sub(a.clock.Now()), 0), func() { ring(wake) })
			}
		}
		select {
		case ev := <-a.events:
			a.handle(ev)
		case <-wake:
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			if err := a.tick(); err != nil {
				return err
			}
		case req := <-a.j.control:
			a.control(req)
		case <-a.ctx.Done():
			return context.Cause(a.ctx)
		}
	}
}

// startTasks starts a goroutine per task, which reports how it ended.
func (a *attempt) startTasks() {
	a.allTasks(func(t *task) {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := t.run(); err != nil {
				a.send(taskEvent{kind: evFailed, vertex: t.v.ID, subtask: t.subtask, err: err})
				return
			}
			a.send(taskEvent{kind: evFinished, vertex: t.v.ID, subtask: t.subtask})
		}()
	})
}

// start creates the split enumerators and, when the job takes checkpoints
// or savepoints, the checkpoint coordinator.
func (a *attempt) start() error {
	if err := a.startEnumerators(); err != nil {
		return err
	}
	if a.checkpointing || a.j.store != nil {
		var ids []coordinator.TaskID
		a.allTasks(func(t *task) { ids = append(ids, coordinator.TaskID{Vertex: t.v.ID, Subtask: t.subtask}) })
		first, err := a.firstID()
		if err != nil {
			return err
		}
		cc := coordinator.Config{
			Interval: a.cfg.Checkpoint.Interval, Timeout: a.cfg.Checkpoint.Timeout, MinPause: a.cfg.Checkpoint.MinPause,
			MaxConcurrent: a.cfg.Checkpoint.MaxConcurrent, TolerableFailures: a.cfg.Checkpoint.TolerableFailures,
			FirstID: first,
		}
		c, err := coordinator.New(cc, ids, a.clock.Now())
		if err != nil {
			return connector.Permanent(fmt.Errorf("%w: %w", ErrConfig, err))
		}
		a.coord = c
	}
	if a.restored != nil {
		a.j.emit(JobEvent{Kind: "restored", CheckpointID: a.restored.id, Path: a.restored.path, InflightRecords: a.restored.inflightRecords(),
			KeyedDeltas: a.restored.keyedDeltas()})
	}
	return nil
}

// settle carries out the coordinator's decisions and reports whether the
// attempt is over: it failed, or every task finished (err nil).
func (a *attempt) settle() (done bool, err error) {
	if err := a.act(); err != nil {
		return true, err
	}
	if a.failure != nil {
		return true, a.failure
	}
	return a.finishedTasks == a.totalTasks, nil
}

// tick acts on the passing of time: the coordinator's deadlines (periodic
// checkpoints, timeouts) and the enumerators' periodic work.
func (a *attempt) tick() error {
	now := a.clock.Now()
	if a.coord != nil {
		a.coord.Tick(now)
	}
	return a.runPeriodic(now)
}

// nextWake is when tick is due next; ok is false when nothing waits for
// the clock.
func (a *attempt) nextWake() (next time.Time, ok bool) {
	if a.coord != nil {
		next, ok = a.coord.NextDeadline()
	}
	for _, p := range a.periodic {
		if !ok || p.next.Before(next) {
			next, ok = p.next, true
		}
	}
	return next, ok
}

func (a *attempt) runPeriodic(now time.Time) error {
	for _, p := range a.periodic {
		if !p.next.After(now) {
			p.next = now.Add(p.interval)
			if err := p.fn(); err != nil {
				return err
			}
		}
	}
	return nil
}

// handle takes in an event of a task or of a helper goroutine.
func (a *attempt) handle(ev taskEvent) {
	now := a.clock.Now()
	tid := coordinator.TaskID{Vertex: ev.vertex, Subtask: ev.subtask}
	switch ev.kind {
	case evFinished:
		a.finishedTasks++
	case evFailed:
		if a.failure == nil {
			a.failure = ev.err
		}
	case evAck:
		if r := a.runs[ev.id]; r != nil {
			r.mu.Lock()
			ev.ack.acked = now.Sub(r.started)
			r.states = append(r.states, ev.ack)
			if ev.ack.unaligned {
				r.unaligned++
				r.inflight += ev.ack.inflight
			}
			r.mu.Unlock()
		}
		if a.coord != nil {
			a.coord.Ack(ev.id, tid, now)
		}
	case evDecline:
		a.logger.Warn("checkpoint declined", "checkpoint", ev.id, "task", tid, "err", ev.err)
		if a.coord != nil {
			a.coord.Decline(ev.id, tid, ev.err, now)
		}
	case evStored:
		if r := a.runs[ev.id]; r != nil && ev.err == nil {
			r.pending = nil // committed: nothing to abort any more
		}
		if a.coord != nil {
			a.coord.Stored(ev.id, ev.err, now)
		}
		if ev.err == nil {
			a.storedPaths[ev.id] = ev.path
		}
	case evSourceEnded:
		a.sourcesEnded++
		if a.sourcesEnded == a.sourceTasks && a.coord != nil && a.checkpointing {
			a.requestFinal()
		}
	case evSplitRequest:
		if e := a.enums[ev.vertex]; e != nil {
			if err := e.enum.HandleSplitRequest(ev.subtask); err != nil && a.failure == nil {
				a.failure = fmt.Errorf("split enumerator of %s: %w", e.name, err)
			}
		}
	}
}

func (a *attempt) requestFinal() {
	if a.finalWanted {
		return
	}
	a.finalWanted = true
	if _, err := a.coord.RequestFinal(a.clock.Now()); err != nil && a.failure == nil {
		a.failure = fmt.Errorf("final checkpoint: %w", err)
	}
}

// control takes in a request for a savepoint or a stop.
func (a *attempt) control(req controlReq) {
	if a.coord == nil {
		req.reply <- savepointResult{err: fmt.Errorf("%w: the job has no checkpoint storage", ErrConfig)}
		return
	}
	now := a.clock.Now()
	switch req.kind {
	case KindSavepoint:
		id, err := a.coord.RequestSavepoint(now)
		if err != nil {
			req.reply <- savepointResult{err: err}
			return
		}
		a.requests[id] = req
	case KindFinal:
		a.stopping = true
		a.j.stopping = true
		a.stopReqs = append(a.stopReqs, req)
		if !a.finalWanted {
			a.finalWanted = true
			if _, err := a.coord.RequestFinal(now); err != nil {
				req.reply <- savepointResult{err: err}
			}
		}
	}
}
