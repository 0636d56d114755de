package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/state"
)

// attempt is one execution of the plan, from a fresh start or a restore,
// until it finishes or fails. Its run method is the job driver: the only
// goroutine that touches the coordinator, the enumerators and the
// checkpoint bookkeeping.
type attempt struct {
	j             *Job
	cfg           *Config
	logger        *slog.Logger
	ctx           context.Context
	cancel        context.CancelCauseFunc
	checkpointing bool
	tasks         [][]*task // by vertex index, then subtask
	vindex        map[int]int
	events        chan taskEvent
	wg            sync.WaitGroup

	coord    *coordinator.Coordinator
	restored *restoredJob
	runs     map[int64]*checkpointRun
	enums    map[int]*enumRunner // by vertex ID
	periodic []*periodicFn

	sourceTasks, sourcesEnded int
	totalTasks, finishedTasks int
	finalWanted               bool
	stopping                  bool
	requests                  map[int64]controlReq
	storedPaths               map[int64]string
	stopReqs                  []controlReq
	failure                   error
	completed                 completedSet // checkpoints completed, for incremental snapshots
}

// checkpointRun is the bookkeeping of one checkpoint in progress.
type checkpointRun struct {
	id      int64
	kind    CheckpointKind
	pending *storage.Pending
	mu      sync.Mutex
	states  []*subtaskState
	enums   map[string][]byte
	// unaligned counts the subtasks that took the checkpoint unaligned;
	// inflight the in-flight records they stored.
	unaligned  int
	inflight   int64
	keyedBytes int64     // bytes of keyed-state files written
	started    time.Time // when the coordinator triggered it
}

type subtaskState struct {
	vertex, subtask int
	ops             []opStateMeta
	unaligned       bool
	inflight        int64
}

type periodicFn struct {
	next     time.Time
	interval time.Duration
	fn       func() error
}

func (j *Job) newAttempt(parent context.Context, restoreFrom string) (*attempt, error) {
	ctx, cancel := context.WithCancelCause(parent)
	a := &attempt{
		j: j, cfg: &j.cfg, logger: j.logger, ctx: ctx, cancel: cancel,
		checkpointing: j.cfg.Checkpoint.Interval > 0,
		vindex:        map[int]int{},
		events:        make(chan taskEvent, 1024),
		runs:          map[int64]*checkpointRun{},
		enums:         map[int]*enumRunner{},
		requests:      map[int64]controlReq{},
		storedPaths:   map[int64]string{},
	}
	if restoreFrom != "" {
		r, err := a.loadRestore(restoreFrom)
		if err != nil {
			cancel(err)
			return nil, err
		}
		a.restored = r
	}
	if err := a.build(); err != nil {
		cancel(err)
		return nil, err
	}
	return a, nil
}

// build creates tasks, links, gates and writers.
func (a *attempt) build() error {
	plan := a.j.plan
	bells := make([][]chan struct{}, len(plan.Vertices))
	for vi, v := range plan.Vertices {
		a.vindex[v.ID] = vi
		bells[vi] = make([]chan struct{}, v.Parallelism)
		a.tasks = append(a.tasks, make([]*task, v.Parallelism))
		for s := range v.Parallelism {
			bell := make(chan struct{}, 1)
			bells[vi][s] = bell
			mail := newMailbox(bell)
			t := &task{
				ctx: a.ctx, att: a, v: v, subtask: s, bell: bell, mail: mail,
				logger:      a.logger.With("task", v.Name, "subtask", s),
				timers:      &timerService{clock: a.cfg.Clock, mail: mail},
				bufferLimit: a.cfg.BufferTimeout,
				lastFlush:   time.Now(),
			}
			for _, op := range v.Ops {
				t.names = append(t.names, op.Name)
			}
			a.tasks[vi][s] = t
			a.totalTasks++
		}
		if v.Source != nil {
			a.sourceTasks += v.Parallelism
		}
	}
	// One link per network edge.
	links := map[*NetEdge]link{}
	for vi, v := range plan.Vertices {
		for _, e := range v.Inputs {
			l := e.Spec.newLink(e.From.Parallelism, v.Parallelism, v.MaxParallelism, a.cfg)
			l.(interface{ setBells([]chan struct{}) }).setBells(bells[vi])
			links[e] = l
			if a.cfg.Checkpoint.Unaligned && a.checkpointing {
				if err := l.checkInflight(); err != nil {
					return fmt.Errorf("%w: unaligned checkpoints store the records in flight between %q and %q, encoded with state.DefaultCodec (JSON for composite types), and %v; make the type round-trip through JSON (exported fields, no interfaces, or json/text marshaling methods) or use aligned checkpoints",
						ErrConfig, e.From.Name, v.Name, err)
				}
			}
		}
	}
	for vi, v := range plan.Vertices {
		for s := range v.Parallelism {
			if err := a.buildTask(a.tasks[vi][s], links); err != nil {
				return fmt.Errorf("build %s subtask %d: %w", v.Name, s, err)
			}
		}
	}
	return nil
}

func (a *attempt) buildTask(t *task, links map[*NetEdge]link) error {
	v := t.v
	t.ops = make([]Operator, len(v.Ops))
	t.meters = make([]opMeter, len(v.Ops))
	vi := a.vindex[v.ID]
	for i := range t.meters {
		t.meters[i].cells = a.j.counters.cell(vi, i, t.subtask)
	}
	if len(v.Inputs) > 0 {
		t.meters[0].in = append(t.meters[0].in, countFunc(func() int64 { return t.recordsIn }))
	}
	for i := len(v.Ops) - 1; i >= 0; i-- {
		spec := v.Ops[i]
		ports := map[string][]any{}
		for _, ce := range spec.Chained {
			out, err := ce.Spec.chainTo(t, ce.To, t.ops[ce.To])
			if err != nil {
				return fmt.Errorf("chain %q to %q: %w", spec.Name, v.Ops[ce.To].Name, err)
			}
			out.(interface{ setFrom(int) }).setFrom(i)
			t.meters[ce.To].in = append(t.meters[ce.To].in, countOf(out))
			ports[ce.Port] = append(ports[ce.Port], out)
		}
		for _, ne := range spec.Net {
			out, w := links[ne].writer(t.subtask, t)
			t.writers = append(t.writers, w)
			ports[ne.Port] = append(ports[ne.Port], out)
		}
		var main any
		if spec.Out != nil {
			if outs := ports[""]; len(outs) > 0 {
				main = spec.Out.fanOut(outs)
			} else {
				main = spec.Out.discard()
			}
			t.meters[i].out = append(t.meters[i].out, countOf(main))
		}
		side := map[string]any{}
		for tag, th := range spec.Side {
			if outs := ports[tag]; len(outs) > 0 {
				side[tag] = th.fanOut(outs)
			} else {
				side[tag] = th.discard()
			}
			t.meters[i].out = append(t.meters[i].out, countOf(side[tag]))
		}
		op, err := spec.New(main, side)
		if err != nil {
			return fmt.Errorf("create operator %q: %w", spec.Name, err)
		}
		t.ops[i] = op
	}
	if v.Source != nil {
		sd, ok := t.ops[0].(sourceDriver)
		if !ok {
			return fmt.Errorf("head %q of a source vertex is not a source operator", v.Ops[0].Name)
		}
		t.src = sd
	}
	// Input gates: one per network edge; channels numbered across gates.
	inputs := 0
	for _, e := range v.Inputs {
		inputs = max(inputs, e.Input+1)
	}
	perInput := make([]int, inputs)
	for _, e := range v.Inputs {
		g, err := links[e].gate(t.subtask, t.ops[0], e.Input)
		if err != nil {
			return fmt.Errorf("input %d of %q: %w", e.Input, v.Ops[0].Name, err)
		}
		gi := len(t.gates)
		g.setup(e, t.nchan)
		t.gates = append(t.gates, g)
		for c := range g.numChannels() {
			t.chanGate = append(t.chanGate, gi)
			t.chanLocal = append(t.chanLocal, c)
			t.chanWM = append(t.chanWM, perInput[e.Input])
			perInput[e.Input]++
			t.nchan++
		}
	}
	for _, n := range perInput {
		t.inputWM = append(t.inputWM, eventtime.NewCombiner(n))
	}
	if inputs > 1 {
		t.headWM = eventtime.NewCombiner(inputs)
	}
	t.ended = make([]bool, t.nchan)
	t.al = newAligner(t.nchan, a.alignMode())
	if a.restored != nil && len(v.Inputs) > 0 {
		t.replay = a.restored.inflightFor(v, t.subtask)
	}
	return nil
}

// alignMode is how tasks align barriers in this attempt.
func (a *attempt) alignMode() alignMode {
	cp := &a.cfg.Checkpoint
	switch {
	case cp.Mode == AtLeastOnce:
		return alignAtLeastOnce
	case !cp.Unaligned:
		return alignAligned
	case cp.AlignedTimeout > 0:
		return alignTimeout
	}
	return alignUnaligned
}

// opContext is the context of operator i of t.
func (a *attempt) opContext(t *task, i int) *OperatorContext {
	spec := t.v.Ops[i]
	ctx := &OperatorContext{
		Name: spec.Name, UID: spec.UID, Subtask: t.subtask,
		Parallelism: t.v.Parallelism, MaxParallelism: t.v.MaxParallelism,
		KeyGroups:      state.RangeForSubtask(t.v.MaxParallelism, t.v.Parallelism, t.subtask),
		Logger:         t.logger.With("operator", spec.Name),
		Checkpointing:  a.checkpointing,
		ProcessingTime: t.timers,
		task:           t,
	}
	if a.restored != nil {
		ctx.Restored = a.restored.forSubtask(spec.UID, t.subtask, t.v.Parallelism, ctx.KeyGroups)
	}
	return ctx
}

// send delivers an event to the driver; it gives up when the attempt is
// being torn down.
func (a *attempt) send(ev taskEvent) {
	select {
	case a.events <- ev:
	case <-a.ctx.Done():
	}
}

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
	w, err := b.run.pending.Create(a.ctx, name)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	if err := encodeInflightFile(bw, secs); err != nil {
		w.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
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
	n, err := writeKeyed(a.ctx, b.run.pending, name, snap)
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

// writeKeyed writes snap as the file name of p and returns its size.
func writeKeyed(ctx context.Context, p *storage.Pending, name string, snap KeyedSnapshot) (int64, error) {
	w, err := p.Create(ctx, name)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	n, err := snap.WriteTo(bw)
	if err != nil {
		w.Close()
		return 0, err
	}
	if err := bw.Flush(); err != nil {
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

func (a *attempt) allTasks(fn func(t *task)) {
	for _, ts := range a.tasks {
		for _, t := range ts {
			fn(t)
		}
	}
}

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

func toKind(k coordinator.Kind) CheckpointKind {
	switch k {
	case coordinator.KindSavepoint:
		return KindSavepoint
	case coordinator.KindFinal:
		return KindFinal
	}
	return KindCheckpoint
}

func (a *attempt) trigger(x coordinator.Trigger) {
	kind := toKind(x.Kind)
	sk := storage.KindCheckpoint
	if kind == KindSavepoint {
		sk = storage.KindSavepoint
	}
	a.j.maxTriggered = max(a.j.maxTriggered, x.ID)
	p, err := a.j.store.Begin(a.ctx, x.ID, sk)
	if err != nil {
		a.coord.Fail(x.ID, fmt.Errorf("begin checkpoint %d: %w", x.ID, err), time.Now())
		return
	}
	r := &checkpointRun{id: x.ID, kind: kind, pending: p, enums: map[string][]byte{}, started: x.Timestamp}
	for _, e := range a.enums {
		b, err := e.enum.Snapshot(x.ID)
		if err != nil {
			a.coord.Fail(x.ID, fmt.Errorf("snapshot split enumerator of %s: %w", e.name, err), time.Now())
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
			t.mail.post(func() error { return t.triggerSource(b) })
		}
	}
}

func (a *attempt) store(id int64) {
	r := a.runs[id]
	if r == nil {
		a.coord.Stored(id, fmt.Errorf("checkpoint %d unknown", id), time.Now())
		return
	}
	payload, err := encodeJobMetadata(a.j.plan, r)
	if err != nil {
		a.coord.Stored(id, err, time.Now())
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
	if toKind(x.Kind) == KindSavepoint {
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
		h(x.ID, toKind(x.Kind))
	}
	a.allTasks(func(t *task) {
		t.mail.post(func() error { return t.notifyComplete(x.ID) })
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
		for _, st := range r.states {
			for _, om := range st.ops {
				if len(om.KeyedChain) > 0 {
					deltas++
				}
			}
		}
		r.mu.Unlock()
		took = time.Since(r.started)
	}
	a.logger.Info("checkpoint completed", "checkpoint", x.ID, "kind", toKind(x.Kind).String(), "path", path,
		"duration", took, "unalignedSubtasks", unaligned, "inflightRecords", inflight, "keyedBytes", keyedBytes, "keyedDeltas", deltas)
	a.j.emit(JobEvent{Kind: "checkpoint-completed", CheckpointID: x.ID, Path: path, Duration: took, Unaligned: unaligned, InflightRecords: inflight,
		KeyedDeltas: deltas, KeyedBytes: keyedBytes})
	if req, ok := a.requests[x.ID]; ok {
		req.reply <- savepointResult{path: path}
		delete(a.requests, x.ID)
	}
	if toKind(x.Kind) == KindFinal {
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
	a.logger.Warn("checkpoint aborted", "checkpoint", x.ID, "kind", toKind(x.Kind).String(), "reason", x.Reason)
	a.j.emit(JobEvent{Kind: "checkpoint-aborted", CheckpointID: x.ID, Err: x.Reason})
	a.allTasks(func(t *task) {
		t.mail.post(func() error { return t.notifyAborted(x.ID) })
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

// shutdown stops everything of the attempt and returns its result.
func (a *attempt) shutdown(err error) error {
	cause := err
	if cause == nil {
		cause = errors.New("job finished")
	}
	a.cancel(cause)
	// Drain events while tasks and writers stop, so nobody blocks.
	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	for {
		select {
		case ev := <-a.events:
			if ev.kind == evFailed && err == nil {
				err = ev.err
			}
			continue
		case <-done:
		}
		break
	}
	for _, r := range a.runs {
		if r.pending != nil {
			r.pending.Abort(context.Background())
		}
	}
	// Requests still waiting end with the attempt: a stop with the
	// failure (the job then ends, see Job.run), a savepoint with it too.
	if err != nil {
		for _, req := range a.stopReqs {
			req.reply <- savepointResult{err: fmt.Errorf("%w: %w", ErrStopIncomplete, err)}
		}
		for _, req := range a.requests {
			req.reply <- savepointResult{err: fmt.Errorf("the job failed before the savepoint completed: %w", err)}
		}
		a.stopReqs, a.requests = nil, nil
	}
	for _, e := range a.enums {
		if cerr := e.enum.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}
