package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
	"github.com/sluicehq/sluice/runtime/restart"
)

// run drives the attempt.
func (a *attempt) run() (err error) {
	defer func() { err = a.shutdown(err) }()
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
		c, err := coordinator.New(cc, ids, time.Now())
		if err != nil {
			return restart.Unrecoverable(fmt.Errorf("%w: %w", ErrConfig, err))
		}
		a.coord = c
	}
	if a.restored != nil {
		a.j.emit(JobEvent{Kind: "restored", CheckpointID: a.restored.id, Path: a.restored.path, InflightRecords: a.restored.inflightRecords(),
			KeyedDeltas: a.restored.keyedDeltas()})
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if err := a.act(); err != nil {
			return err
		}
		if a.failure != nil {
			return a.failure
		}
		if a.finishedTasks == a.totalTasks {
			return nil
		}
		timer.Reset(a.nextWake())
		select {
		case ev := <-a.events:
			a.handle(ev)
		case <-timer.C:
			now := time.Now()
			if a.coord != nil {
				a.coord.Tick(now)
			}
			if err := a.runPeriodic(now); err != nil {
				return err
			}
		case req := <-a.j.control:
			a.control(req)
		case <-a.ctx.Done():
			return context.Cause(a.ctx)
		}
	}
}

func (a *attempt) nextWake() time.Duration {
	next := time.Now().Add(time.Hour)
	if a.coord != nil {
		if d, ok := a.coord.NextDeadline(); ok && d.Before(next) {
			next = d
		}
	}
	for _, p := range a.periodic {
		if p.next.Before(next) {
			next = p.next
		}
	}
	return max(time.Until(next), 0)
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

func (a *attempt) handle(ev taskEvent) {
	now := time.Now()
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
	if _, err := a.coord.RequestFinal(time.Now()); err != nil && a.failure == nil {
		a.failure = fmt.Errorf("final checkpoint: %w", err)
	}
}

func (a *attempt) control(req controlReq) {
	if a.coord == nil {
		req.reply <- savepointResult{err: fmt.Errorf("%w: the job has no checkpoint storage", ErrConfig)}
		return
	}
	now := time.Now()
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
