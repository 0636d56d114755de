package runtime

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/state"
)

// writeSnapshot writes the asynchronous part of a task's snapshot and acks.
//
// For an unaligned snapshot, chanState delivers the subtask's channel state
// once the barriers of all its channels arrived (nil when the task gave the
// checkpoint up): it is written too, and only then is the checkpoint acked.
func (a *attempt) writeSnapshot(t *task, b Barrier, snaps []OperatorSnapshot, chanState <-chan *channelState) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		st := &subtaskState{vertex: t.v.ID, subtask: t.subtask}
		var failed error
		metas := make([]opStateMeta, len(snaps))
		incremental := a.incremental(b)
		for i, s := range snaps {
			spec := t.v.Ops[i]
			om := opStateMeta{UID: spec.UID, Subtask: t.subtask, Lists: s.Lists, Unions: s.Unions}
			if s.Keyed != nil {
				if failed == nil {
					failed = a.writeKeyedState(t, i, b, s.Keyed, incremental, &om)
				}
				s.Keyed.Release()
			}
			metas[i] = om
		}
		if failed != nil {
			a.send(taskEvent{kind: evDecline, vertex: t.v.ID, subtask: t.subtask, id: b.ID,
				err: fmt.Errorf("write state of %s: %w", t.name(), failed)})
			return
		}
		if chanState != nil {
			var cs *channelState
			select {
			case cs = <-chanState:
			case <-a.ctx.Done():
				return
			}
			if cs == nil {
				return // given up: declined by the task or aborted
			}
			st.unaligned = true
			if err := a.writeChannelState(t, b, cs, &metas[0]); err != nil {
				a.send(taskEvent{kind: evDecline, vertex: t.v.ID, subtask: t.subtask, id: b.ID,
					err: fmt.Errorf("write in-flight records of %s: %w", t.name(), err)})
				return
			}
			st.inflight = cs.records()
		}
		for _, om := range metas {
			if om.KeyedFile != "" || len(om.Lists) > 0 || len(om.Unions) > 0 || om.InflightFile != "" {
				st.ops = append(st.ops, om)
			}
		}
		a.send(taskEvent{kind: evAck, vertex: t.v.ID, subtask: t.subtask, id: b.ID, ack: st})
	}()
}

// writeChannelState writes the in-flight records of an unaligned snapshot
// as a file of the head operator's subtask.
func (a *attempt) writeChannelState(t *task, b Barrier, cs *channelState, head *opStateMeta) error {
	var secs []inflightSection
	for _, s := range cs.sections {
		if s.meta.Records > 0 {
			secs = append(secs, s)
		}
	}
	if len(secs) == 0 {
		return nil
	}
	name := fmt.Sprintf("%s-%d.inflight", fileSafe(t.v.Ops[0].UID), t.subtask)
	if _, err := writeStateFile(a.ctx, b.run.pending, name, func(w io.Writer) (int64, error) {
		return 0, encodeInflightFile(w, secs)
	}); err != nil {
		return err
	}
	head.InflightFile = name
	for _, s := range secs {
		head.Inflight = append(head.Inflight, s.meta)
		if h := a.cfg.Hooks.InflightStored; h != nil {
			h(b.ID, t.v.Ops[0].UID, t.subtask, s.meta.Part, s.meta.Records)
		}
	}
	return nil
}

// writeKeyedState writes the keyed snapshot of operator i of t and fills
// in its part of om; a delta lists the files it builds on.
func (a *attempt) writeKeyedState(t *task, i int, b Barrier, snap KeyedSnapshot, incremental bool, om *opStateMeta) error {
	var chain []keyedRef
	var prev keyedChain
	if snap.Delta() {
		var err error
		if chain, prev, err = t.inc.base(i, b.ID); err != nil {
			return err
		}
		// From now on retention keeps the files the delta builds on.
		for _, ref := range chain {
			b.run.pending.Use(ref.Dir)
		}
	}
	kg := state.RangeForSubtask(t.v.MaxParallelism, t.v.Parallelism, t.subtask)
	name := fmt.Sprintf("%s-%d.keyed", fileSafe(t.v.Ops[i].UID), t.subtask)
	n, err := writeStateFile(a.ctx, b.run.pending, name, snap.WriteTo)
	if err != nil {
		return err
	}
	b.run.mu.Lock()
	b.run.keyedBytes += n
	b.run.mu.Unlock()
	om.KeyedFile, om.KeyGroupStart, om.KeyGroupEnd, om.KeyedChain = name, kg.Start, kg.End, chain
	if incremental {
		written, live := snap.Entries()
		t.inc.wrote(i, b.ID, b.run.pending.Dir(), name, chain, prev, written, live, a.cfg.Checkpoint.MaxDeltas)
	}
	return nil
}

// writeStateFile writes the state file name of checkpoint p through a
// buffer filled by write, and closes it only when all of it was written
// (closing makes it part of the checkpoint). It returns what write
// returned.
func writeStateFile(ctx context.Context, p *storage.Pending, name string, write func(io.Writer) (int64, error)) (int64, error) {
	w, err := p.Create(ctx, name)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	n, err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		w.Close()
		return 0, err
	}
	return n, w.Close()
}

// incremental reports whether keyed state is snapshot incrementally for b.
func (a *attempt) incremental(b Barrier) bool {
	return a.cfg.Checkpoint.Incremental && b.Kind != KindSavepoint
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
