package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
	"github.com/sluicehq/sluice/connector"
)

// act executes the coordinator's decisions, until it has none: executing
// one may produce more (a trigger that cannot begin declines, which aborts
// the checkpoint), and nothing else would wake the driver for them.
func (a *attempt) act() error {
	if a.coord == nil {
		return nil
	}
	for acts := a.coord.Ready(); len(acts) > 0; acts = a.coord.Ready() {
		if err := a.actOn(acts); err != nil {
			return err
		}
	}
	return nil
}

func (a *attempt) actOn(acts []coordinator.Action) error {
	for _, act := range acts {
		switch x := act.(type) {
		case coordinator.Trigger:
			a.trigger(x)
		case coordinator.Store:
			a.store(x.ID)
		case coordinator.Complete:
			if err := a.complete(x); err != nil {
				return err
			}
		case coordinator.Abort:
			a.abort(x)
		case coordinator.FailJob:
			return fmt.Errorf("checkpointing: %w", x.Err)
		}
	}
	return nil
}

func (a *attempt) trigger(x coordinator.Trigger) {
	kind := x.Kind
	a.j.maxTriggered = max(a.j.maxTriggered, x.ID)
	p, err := a.j.store.Begin(a.ctx, x.ID, kind)
	if err != nil {
		a.coord.Fail(x.ID, fmt.Errorf("begin checkpoint %d: %w", x.ID, err), a.clock.Now())
		return
	}
	r := &checkpointRun{id: x.ID, kind: kind, pending: p, enums: map[string][]byte{}, started: x.Timestamp}
	for _, e := range a.enums {
		b, err := e.enum.Snapshot(x.ID)
		if err != nil {
			a.coord.Fail(x.ID, fmt.Errorf("snapshot split enumerator of %s: %w", e.name, err), a.clock.Now())
			p.Abort(a.ctx)
			return
		}
		r.enums[e.uid] = b
	}
	a.runs[x.ID] = r
	b := Barrier{ID: x.ID, Timestamp: x.Timestamp.UnixMilli(), Kind: kind, run: r}
	for vi, v := range a.j.plan.Vertices {
		if v.Source == nil {
			continue
		}
		for _, t := range a.tasks[vi] {
			t := t
			t.mail.post("trigger", b.ID, func() error { return t.triggerSource(b) })
		}
	}
}

func (a *attempt) store(id int64) {
	r := a.runs[id]
	if r == nil {
		a.coord.Stored(id, fmt.Errorf("checkpoint %d unknown", id), a.clock.Now())
		return
	}
	payload, err := encodeJobMetadata(a.j.plan, r)
	if err != nil {
		a.coord.Stored(id, err, a.clock.Now())
		return
	}
	p := r.pending
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		cp, err := p.Commit(a.ctx, payload)
		path := ""
		if cp != nil {
			path = cp.Path
		}
		a.send(taskEvent{kind: evStored, id: id, err: err, path: path})
	}()
}

func (a *attempt) complete(x coordinator.Complete) error {
	path := a.storedPaths[x.ID]
	if x.Kind == KindSavepoint {
		// A savepoint commits no side effects: what two-phase sinks
		// pre-committed for it stays pending until the next checkpoint.
		a.logger.Info("savepoint completed", "checkpoint", x.ID, "path", path)
		if req, ok := a.requests[x.ID]; ok {
			req.reply <- savepointResult{path: path}
			delete(a.requests, x.ID)
		}
		delete(a.runs, x.ID)
		delete(a.storedPaths, x.ID)
		return nil
	}
	a.completed.add(x.ID)
	a.j.lastCompleted = max(a.j.lastCompleted, x.ID)
	if h := a.cfg.Hooks.CheckpointCompleted; h != nil {
		h(x.ID, x.Kind)
	}
	a.allTasks(func(t *task) {
		t.mail.post("complete", x.ID, func() error { return t.notifyComplete(x.ID) })
	})
	for _, e := range a.enums {
		if l, ok := e.enum.(connector.CheckpointListener); ok {
			if err := l.NotifyCheckpointComplete(x.ID); err != nil {
				return fmt.Errorf("split enumerator of %s: checkpoint %d complete: %w", e.name, x.ID, err)
			}
		}
	}
	var unaligned, deltas int
	var inflight, keyedBytes int64
	var took time.Duration
	if r := a.runs[x.ID]; r != nil {
		r.mu.Lock()
		unaligned, inflight, keyedBytes = r.unaligned, r.inflight, r.keyedBytes
		a.j.obs.completing(x.ID, x.Kind, r.states)
		for _, st := range r.states {
			for _, om := range st.ops {
				if len(om.KeyedChain) > 0 {
					deltas++
				}
			}
		}
		r.mu.Unlock()
		took = a.clock.Now().Sub(r.started)
	}
	a.logger.Info("checkpoint completed", "checkpoint", x.ID, "kind", x.Kind.String(), "path", path,
		"duration", took, "unalignedSubtasks", unaligned, "inflightRecords", inflight, "keyedBytes", keyedBytes, "keyedDeltas", deltas)
	a.j.emit(JobEvent{Kind: "checkpoint-completed", CheckpointID: x.ID, Path: path, Duration: took, Unaligned: unaligned, InflightRecords: inflight,
		KeyedDeltas: deltas, KeyedBytes: keyedBytes})
	if req, ok := a.requests[x.ID]; ok {
		req.reply <- savepointResult{path: path}
		delete(a.requests, x.ID)
	}
	if x.Kind == KindFinal {
		for _, req := range a.stopReqs {
			req.reply <- savepointResult{path: path}
		}
		a.stopReqs = nil
	}
	for id := range a.runs {
		if id <= x.ID && a.runs[id].kind != KindSavepoint {
			delete(a.runs, id)
			delete(a.storedPaths, id)
		}
	}
	st, n := a.j.store, a.cfg.Checkpoint.Retain
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := st.Retain(a.ctx, n); err != nil && a.ctx.Err() == nil {
			a.logger.Warn("checkpoint retention failed", "err", err)
		}
	}()
	return nil
}

func (a *attempt) abort(x coordinator.Abort) {
	a.logger.Warn("checkpoint aborted", "checkpoint", x.ID, "kind", x.Kind.String(), "reason", x.Reason)
	a.j.emit(JobEvent{Kind: "checkpoint-aborted", CheckpointID: x.ID, Err: x.Reason})
	a.allTasks(func(t *task) {
		t.mail.post("abort", x.ID, func() error { return t.notifyAborted(x.ID) })
	})
	for _, e := range a.enums {
		if l, ok := e.enum.(connector.CheckpointListener); ok {
			if err := l.NotifyCheckpointAborted(x.ID); err != nil && a.failure == nil {
				a.failure = err
			}
		}
	}
	if r := a.runs[x.ID]; r != nil {
		delete(a.runs, x.ID)
		if p := r.pending; p != nil {
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				p.Abort(context.WithoutCancel(a.ctx))
			}()
		}
	}
	if req, ok := a.requests[x.ID]; ok {
		req.reply <- savepointResult{err: fmt.Errorf("savepoint %d failed: %w", x.ID, x.Reason)}
		delete(a.requests, x.ID)
	}
	// An aborted final checkpoint is retried by the coordinator itself
	// (with a new id), unless that failure ends the job.
}
