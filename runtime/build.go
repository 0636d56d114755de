package runtime

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/state"
)

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
			l := e.Spec.newLink(e.From.Parallelism, bells[vi], v.MaxParallelism, a.cfg)
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
			out, err := ce.Spec.chainTo(t, i, ce.To, t.ops[ce.To])
			if err != nil {
				return fmt.Errorf("chain %q to %q: %w", spec.Name, v.Ops[ce.To].Name, err)
			}
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
		g.setup(e)
		t.gates = append(t.gates, g)
		for c := range g.numChannels() {
			t.chanGate = append(t.chanGate, gi)
			t.chanLocal = append(t.chanLocal, c)
			t.chanWM = append(t.chanWM, perInput[e.Input])
			t.chanInput = append(t.chanInput, e.Input)
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
