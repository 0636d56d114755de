package stream

import (
	"fmt"
	"log/slog"

	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
)

// KeyedStream is a stream partitioned by key: every record with the same
// key goes to the same subtask, where keyed state and timers are scoped to
// the key.
type KeyedStream[K comparable, T any] struct {
	s     Stream[T]
	keyFn func(T) K
	hash  func(K) uint64
}

// KeyBy partitions s by the key keyFn extracts. The key's hash is fixed
// forever (state.Hasher): checkpoints depend on it.
func KeyBy[T any, K comparable](s Stream[T], keyFn func(T) K) KeyedStream[K, T] {
	return KeyedStream[K, T]{s: s, keyFn: keyFn, hash: state.Hasher[K]()}
}

// Stream returns the keyed stream's records as a plain stream.
func (k KeyedStream[K, T]) Stream() Stream[T] { return k.s }

func (k KeyedStream[K, T]) edge(input int) *graph.Edge {
	keyFn, hash := k.keyFn, k.hash
	return k.s.edge(runtime.NewEdge[T](runtime.Hash, func(v T) uint64 { return hash(keyFn(v)) }), input)
}

// keyedNode adds a keyed operator reading k.
func keyedNode[O any, K comparable, T any](k KeyedStream[K, T], name string, newOp func(out runtime.Output[O], side map[string]any) runtime.Operator) Stream[O] {
	return add[O](k.s.env, &graph.Node{Name: name, Keyed: true, Inputs: []*graph.Edge{k.edge(0)},
		New: func(main any, side map[string]any) (runtime.Operator, error) {
			return newOp(main.(runtime.Output[O]), side), nil
		}})
}

// keyedCore is the part every keyed operator shares: the keyed state
// backend, restore and snapshot.
type keyedCore[K comparable] struct {
	b  *state.KeyedBackend[K]
	rc *runtime.OperatorContext
}

func (c *keyedCore[K]) open(rc *runtime.OperatorContext) error {
	c.rc = rc
	c.b = state.NewKeyedBackend(state.Options[K]{MaxParallelism: rc.MaxParallelism, Range: rc.KeyGroups})
	if err := rc.Restored.RestoreKeyed(c.b.Restore); err != nil {
		return fmt.Errorf("restore keyed state: %w", err)
	}
	return nil
}

func (c *keyedCore[K]) SnapshotState(info runtime.CheckpointInfo, snap *runtime.OperatorSnapshot) error {
	switch {
	case !info.Incremental:
		snap.Keyed = c.b.Snapshot()
	default:
		if info.NewChain {
			c.b.ResetIncremental()
		}
		snap.Keyed = c.b.IncrementalSnapshot()
	}
	return nil
}

// Reduce keeps a running reduction per key and emits every update.
func Reduce[K comparable, T any](k KeyedStream[K, T], fn func(acc, v T) T) Stream[T] {
	return keyedNode(k, "Reduce", func(out runtime.Output[T], _ map[string]any) runtime.Operator {
		return &reduceOp[K, T]{base: base[T]{out: out}, keyFn: k.keyFn, fn: fn}
	})
}

type reduceOp[K comparable, T any] struct {
	base[T]
	keyedCore[K]
	keyFn func(T) K
	fn    func(T, T) T
	st    state.ValueState[T]
}

func (r *reduceOp[K, T]) Open(rc *runtime.OperatorContext) error {
	if err := r.open(rc); err != nil {
		return err
	}
	st, err := state.Value[K, T](r.b, "reduce", nil)
	r.st = st
	return err
}

func (r *reduceOp[K, T]) ProcessRecord(rec runtime.Record[T]) error {
	if err := r.b.SetCurrentKey(r.keyFn(rec.Value)); err != nil {
		return err
	}
	v := rec.Value
	if acc, ok := r.st.Value(); ok {
		v = r.fn(acc, v)
	}
	r.st.Update(v)
	return r.out.Collect(runtime.Record[T]{Value: v, Time: rec.Time})
}

// AggregateFunction aggregates records into an accumulator (Flink's
// AggregateFunction). Accumulators are kept in keyed state, which a
// checkpoint being written may read at the same time: Add and Merge
// return the new accumulator and must not change memory their arguments
// refer to. An accumulator that is a value (a struct of numbers and
// strings) is a copy and may be changed and returned; one that is or holds
// a pointer, slice or map must be copied before it is changed, or the
// checkpoint may capture it half updated.
type AggregateFunction[T, A, O any] interface {
	CreateAccumulator() A
	Add(acc A, v T) A
	Result(acc A) O
	Merge(a, b A) A
}

// Aggregate keeps a running aggregate per key and emits the result after
// every record.
func Aggregate[K comparable, T, A, O any](k KeyedStream[K, T], agg AggregateFunction[T, A, O]) Stream[O] {
	return keyedNode(k, "Aggregate", func(out runtime.Output[O], _ map[string]any) runtime.Operator {
		return &aggregateOp[K, T, A, O]{base: base[O]{out: out}, keyFn: k.keyFn, agg: agg}
	})
}

type aggregateOp[K comparable, T, A, O any] struct {
	base[O]
	keyedCore[K]
	keyFn func(T) K
	agg   AggregateFunction[T, A, O]
	st    state.ValueState[A]
}

func (a *aggregateOp[K, T, A, O]) Open(rc *runtime.OperatorContext) error {
	if err := a.open(rc); err != nil {
		return err
	}
	st, err := state.Value[K, A](a.b, "aggregate", nil)
	a.st = st
	return err
}

func (a *aggregateOp[K, T, A, O]) ProcessRecord(rec runtime.Record[T]) error {
	if err := a.b.SetCurrentKey(a.keyFn(rec.Value)); err != nil {
		return err
	}
	acc, ok := a.st.Value()
	if !ok {
		acc = a.agg.CreateAccumulator()
	}
	acc = a.agg.Add(acc, rec.Value)
	a.st.Update(acc)
	return a.out.Collect(runtime.Record[O]{Value: a.agg.Result(acc), Time: rec.Time})
}

// KeyedRuntime gives a keyed function access to keyed state and to facts
// about its subtask. State handles operate on the key of the record or
// timer being processed.
type KeyedRuntime[K comparable] struct {
	b  *state.KeyedBackend[K]
	rc *runtime.OperatorContext
}

// Subtask is the index of the subtask.
func (r *KeyedRuntime[K]) Subtask() int { return r.rc.Subtask }

// Parallelism of the operator.
func (r *KeyedRuntime[K]) Parallelism() int { return r.rc.Parallelism }

// Logger of the operator subtask.
func (r *KeyedRuntime[K]) Logger() *slog.Logger { return r.rc.Logger }

// ValueState returns the value state called name (encoded with
// state.DefaultCodec; use ValueStateWith for another codec).
func ValueState[V any, K comparable](r *KeyedRuntime[K], name string) (state.ValueState[V], error) {
	return state.Value[K, V](r.b, name, nil)
}

// ValueStateWith is ValueState with a codec.
func ValueStateWith[V any, K comparable](r *KeyedRuntime[K], name string, c state.Codec[V]) (state.ValueState[V], error) {
	return state.Value[K, V](r.b, name, c)
}

// ListState returns the list state called name.
func ListState[V any, K comparable](r *KeyedRuntime[K], name string) (state.ListState[V], error) {
	return state.List[K, V](r.b, name, nil)
}

// MapState returns the map state called name.
func MapState[UK comparable, UV any, K comparable](r *KeyedRuntime[K], name string) (state.MapState[UK, UV], error) {
	return state.Map[K, UK, UV](r.b, name, nil, nil)
}

// TimeDomain says which clock a timer belongs to.
type TimeDomain uint8

const (
	// EventTime timers fire when the watermark passes them.
	EventTime TimeDomain = iota
	// ProcessingTime timers fire when the clock passes them.
	ProcessingTime
)

// KeyedContext is a keyed process function's view of the current record or
// timer: its key, timestamp, the watermark, timers and side outputs.
type KeyedContext[K comparable] struct {
	Context
	core   *keyedProcessCore[K]
	domain TimeDomain
}

// Key is the current key.
func (c *KeyedContext[K]) Key() K { return c.core.b.CurrentKey() }

// TimeDomain is the domain of the timer being handled (OnTimer only).
func (c *KeyedContext[K]) TimeDomain() TimeDomain { return c.domain }

// RegisterEventTimeTimer registers a timer for the current key that fires
// when the watermark reaches ts. Registering the same time twice fires once.
func (c *KeyedContext[K]) RegisterEventTimeTimer(ts int64) {
	c.core.timers.RegisterEventTime(struct{}{}, ts)
}

// DeleteEventTimeTimer deletes a timer of the current key.
func (c *KeyedContext[K]) DeleteEventTimeTimer(ts int64) {
	c.core.timers.DeleteEventTime(struct{}{}, ts)
}

// RegisterProcessingTimeTimer registers a timer for the current key that
// fires when processing time reaches ts (unix milliseconds).
func (c *KeyedContext[K]) RegisterProcessingTimeTimer(ts int64) {
	c.core.timers.RegisterProcessingTime(struct{}{}, ts)
	c.core.scheduleProcessing(ts)
}

// DeleteProcessingTimeTimer deletes a processing-time timer of the current key.
func (c *KeyedContext[K]) DeleteProcessingTimeTimer(ts int64) {
	c.core.timers.DeleteProcessingTime(struct{}{}, ts)
}

// KeyedProcessFunction handles the records of a keyed stream, with keyed
// state and timers.
type KeyedProcessFunction[K comparable, T, O any] interface {
	// Open registers state; it runs once per subtask before any record.
	Open(rt *KeyedRuntime[K]) error
	// ProcessElement handles one record.
	ProcessElement(ctx *KeyedContext[K], v T, out Collector[O]) error
	// OnTimer handles a timer of the current key firing at ts.
	OnTimer(ctx *KeyedContext[K], ts int64, out Collector[O]) error
}

// KeyedProcessFuncs builds a KeyedProcessFunction from functions; nil ones
// do nothing.
type KeyedProcessFuncs[K comparable, T, O any] struct {
	OpenFn    func(rt *KeyedRuntime[K]) error
	ProcessFn func(ctx *KeyedContext[K], v T, out Collector[O]) error
	OnTimerFn func(ctx *KeyedContext[K], ts int64, out Collector[O]) error
}

// Open calls OpenFn.
func (f KeyedProcessFuncs[K, T, O]) Open(rt *KeyedRuntime[K]) error {
	if f.OpenFn == nil {
		return nil
	}
	return f.OpenFn(rt)
}

// ProcessElement calls ProcessFn.
func (f KeyedProcessFuncs[K, T, O]) ProcessElement(ctx *KeyedContext[K], v T, out Collector[O]) error {
	if f.ProcessFn == nil {
		return nil
	}
	return f.ProcessFn(ctx, v, out)
}

// OnTimer calls OnTimerFn.
func (f KeyedProcessFuncs[K, T, O]) OnTimer(ctx *KeyedContext[K], ts int64, out Collector[O]) error {
	if f.OnTimerFn == nil {
		return nil
	}
	return f.OnTimerFn(ctx, ts, out)
}

// ProcessKeyed runs a keyed process function over the keyed stream.
// newFn is called once per subtask: each subtask gets its own function
// value, so state handles kept in its fields (or captured by its closures)
// are never shared between subtasks.
func ProcessKeyed[K comparable, T, O any](k KeyedStream[K, T], newFn func() KeyedProcessFunction[K, T, O]) Stream[O] {
	return keyedNode(k, "KeyedProcess", func(out runtime.Output[O], side map[string]any) runtime.Operator {
		op := &keyedProcessOp[K, T, O]{keyFn: k.keyFn, fn: newFn()}
		op.init(out, side, op.fn.OnTimer)
		return op
	})
}

// keyedProcessCore adds timers to keyedCore.
type keyedProcessCore[K comparable] struct {
	keyedCore[K]
	timers    *state.Timers[K, struct{}]
	scheduled int64 // earliest processing time a callback is scheduled for; 0 none
	onProc    func(now int64) error
}

func (c *keyedProcessCore[K]) openTimers() error {
	t, err := state.NewTimers[K, struct{}](c.b, "timers", nil)
	if err != nil {
		return err
	}
	c.timers = t
	if next, ok := t.NextProcessingTime(); ok {
		c.scheduleProcessing(next)
	}
	return nil
}

func (c *keyedProcessCore[K]) scheduleProcessing(ts int64) {
	if c.scheduled != 0 && c.scheduled <= ts {
		return
	}
	c.scheduled = ts
	c.rc.ProcessingTime.Schedule(ts, func(now int64) error {
		if c.scheduled == ts {
			c.scheduled = 0
		}
		if err := c.onProc(now); err != nil {
			return err
		}
		if next, ok := c.timers.NextProcessingTime(); ok {
			c.scheduleProcessing(next)
		}
		return nil
	})
}

// keyedFnCore is what keyed process functions (one or two inputs) share:
// the collector, the context, timer firing and error collection.
type keyedFnCore[K comparable, O any] struct {
	keyedProcessCore[K]
	out     runtime.Output[O]
	c       collector[O]
	ctx     KeyedContext[K]
	onTimer func(ctx *KeyedContext[K], ts int64, out Collector[O]) error
}

func (f *keyedFnCore[K, O]) init(out runtime.Output[O], side map[string]any, onTimer func(*KeyedContext[K], int64, Collector[O]) error) {
	f.out, f.c.out, f.ctx.sides, f.ctx.core, f.onTimer = out, out, side, &f.keyedProcessCore, onTimer
}

// openFn opens the keyed state and timers and then the user function.
func (f *keyedFnCore[K, O]) openFn(rc *runtime.OperatorContext, open func(*KeyedRuntime[K]) error) error {
	if err := f.open(rc); err != nil {
		return err
	}
	f.ctx.pt = rc.ProcessingTime
	f.ctx.wm = runtime.NoTimestamp
	f.onProc = f.fireProcessing
	if err := f.openTimers(); err != nil {
		return err
	}
	return open(&KeyedRuntime[K]{b: f.b, rc: rc})
}

// setRecord makes the record's key and timestamp current.
func (f *keyedFnCore[K, O]) setRecord(k K, ts int64) error {
	f.ctx.ts, f.c.ts = ts, ts
	return f.b.SetCurrentKey(k)
}

// result returns the first error of a call: its own, the collector's or
// a side output's.
func (f *keyedFnCore[K, O]) result(err error) error {
	if err == nil {
		err = f.c.err
	}
	if err == nil {
		err = f.ctx.err
	}
	f.c.err, f.ctx.err = nil, nil
	return err
}

func (f *keyedFnCore[K, O]) ProcessWatermark(wm int64) error {
	f.ctx.wm = wm
	f.ctx.domain = EventTime
	err := f.timers.AdvanceWatermark(wm, func(_ K, _ struct{}, ts int64) error {
		f.ctx.ts, f.c.ts = ts, ts
		return f.result(f.onTimer(&f.ctx, ts, &f.c))
	})
	if err != nil {
		return err
	}
	return f.out.EmitWatermark(wm)
}

func (f *keyedFnCore[K, O]) ProcessStatus(idle bool) error { return f.out.EmitStatus(idle) }
func (f *keyedFnCore[K, O]) Close() error                  { return nil }

func (f *keyedFnCore[K, O]) fireProcessing(now int64) error {
	f.ctx.domain = ProcessingTime
	return f.timers.AdvanceProcessingTime(now, func(_ K, _ struct{}, ts int64) error {
		f.ctx.ts, f.c.ts = runtime.NoTimestamp, runtime.NoTimestamp
		return f.result(f.onTimer(&f.ctx, ts, &f.c))
	})
}

type keyedProcessOp[K comparable, T, O any] struct {
	keyedFnCore[K, O]
	keyFn func(T) K
	fn    KeyedProcessFunction[K, T, O]
}

func (p *keyedProcessOp[K, T, O]) Open(rc *runtime.OperatorContext) error {
	return p.openFn(rc, p.fn.Open)
}

func (p *keyedProcessOp[K, T, O]) ProcessRecord(r runtime.Record[T]) error {
	if err := p.setRecord(p.keyFn(r.Value), r.Time); err != nil {
		return err
	}
	return p.result(p.fn.ProcessElement(&p.ctx, r.Value, &p.c))
}
