package stream

import (
	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
)

// KeyedCoProcessFunction handles two keyed streams with the same key type
// in one operator: keyed state and timers are shared by both inputs of a
// key (joins, enrichment).
type KeyedCoProcessFunction[K comparable, A, B, O any] interface {
	// Open registers state; it runs once per subtask.
	Open(rt *KeyedRuntime[K]) error
	// ProcessElement1 handles a record of the first input.
	ProcessElement1(ctx *KeyedContext[K], v A, out Collector[O]) error
	// ProcessElement2 handles a record of the second input.
	ProcessElement2(ctx *KeyedContext[K], v B, out Collector[O]) error
	// OnTimer handles a timer of the current key.
	OnTimer(ctx *KeyedContext[K], ts int64, out Collector[O]) error
}

// KeyedCoProcessFuncs builds a KeyedCoProcessFunction from functions; nil
// ones do nothing.
type KeyedCoProcessFuncs[K comparable, A, B, O any] struct {
	OpenFn     func(rt *KeyedRuntime[K]) error
	Process1Fn func(ctx *KeyedContext[K], v A, out Collector[O]) error
	Process2Fn func(ctx *KeyedContext[K], v B, out Collector[O]) error
	OnTimerFn  func(ctx *KeyedContext[K], ts int64, out Collector[O]) error
}

// Open calls OpenFn.
func (f KeyedCoProcessFuncs[K, A, B, O]) Open(rt *KeyedRuntime[K]) error {
	if f.OpenFn == nil {
		return nil
	}
	return f.OpenFn(rt)
}

// ProcessElement1 calls Process1Fn.
func (f KeyedCoProcessFuncs[K, A, B, O]) ProcessElement1(ctx *KeyedContext[K], v A, out Collector[O]) error {
	if f.Process1Fn == nil {
		return nil
	}
	return f.Process1Fn(ctx, v, out)
}

// ProcessElement2 calls Process2Fn.
func (f KeyedCoProcessFuncs[K, A, B, O]) ProcessElement2(ctx *KeyedContext[K], v B, out Collector[O]) error {
	if f.Process2Fn == nil {
		return nil
	}
	return f.Process2Fn(ctx, v, out)
}

// OnTimer calls OnTimerFn.
func (f KeyedCoProcessFuncs[K, A, B, O]) OnTimer(ctx *KeyedContext[K], ts int64, out Collector[O]) error {
	if f.OnTimerFn == nil {
		return nil
	}
	return f.OnTimerFn(ctx, ts, out)
}

// CoProcessKeyed connects two keyed streams and runs a function over both.
// newFn is called once per subtask. The operator's watermark is the
// minimum of both inputs' watermarks.
func CoProcessKeyed[K comparable, A, B, O any](a KeyedStream[K, A], b KeyedStream[K, B], newFn func() KeyedCoProcessFunction[K, A, B, O]) Stream[O] {
	if a.s.env != b.s.env {
		panic("stream.CoProcessKeyed: the streams belong to different environments")
	}
	return add[O](a.s.env, &graph.Node{Name: "KeyedCoProcess", Keyed: true, Inputs: []*graph.Edge{a.edge(0), b.edge(1)},
		New: func(main any, side map[string]any) (runtime.Operator, error) {
			op := &coProcessOp[K, A, B, O]{keyA: a.keyFn, keyB: b.keyFn, fn: newFn()}
			op.init(main.(runtime.Output[O]), side, op.fn.OnTimer)
			return op, nil
		}})
}

type coProcessOp[K comparable, A, B, O any] struct {
	keyedFnCore[K, O]
	keyA func(A) K
	keyB func(B) K
	fn   KeyedCoProcessFunction[K, A, B, O]
}

func (p *coProcessOp[K, A, B, O]) Open(rc *runtime.OperatorContext) error {
	return p.openFn(rc, p.fn.Open)
}

// InputAt returns the typed input i.
func (p *coProcessOp[K, A, B, O]) InputAt(i int) any {
	if i == 0 {
		return runtime.Input[A](coInput1[K, A, B, O]{p})
	}
	return runtime.Input[B](coInput2[K, A, B, O]{p})
}

type coInput1[K comparable, A, B, O any] struct{ p *coProcessOp[K, A, B, O] }

func (in coInput1[K, A, B, O]) ProcessRecord(r runtime.Record[A]) error {
	p := in.p
	if err := p.setRecord(p.keyA(r.Value), r.Time); err != nil {
		return err
	}
	return p.result(p.fn.ProcessElement1(&p.ctx, r.Value, &p.c))
}

type coInput2[K comparable, A, B, O any] struct{ p *coProcessOp[K, A, B, O] }

func (in coInput2[K, A, B, O]) ProcessRecord(r runtime.Record[B]) error {
	p := in.p
	if err := p.setRecord(p.keyB(r.Value), r.Time); err != nil {
		return err
	}
	return p.result(p.fn.ProcessElement2(&p.ctx, r.Value, &p.c))
}
