package stream

import (
	"fmt"

	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
)

// base forwards watermarks and status; operators embed it.
type base[O any] struct{ out runtime.Output[O] }

func (b *base[O]) Open(*runtime.OperatorContext) error { return nil }
func (b *base[O]) Close() error                        { return nil }
func (b *base[O]) ProcessWatermark(wm int64) error     { return b.out.EmitWatermark(wm) }
func (b *base[O]) ProcessStatus(idle bool) error       { return b.out.EmitStatus(idle) }

type passOp[T any] struct{ base[T] }

func (p *passOp[T]) ProcessRecord(r runtime.Record[T]) error { return p.out.Collect(r) }

// Map applies fn to every record.
func Map[T, U any](s Stream[T], fn func(T) U) Stream[U] {
	return add[U](s.env, &graph.Node{Name: "Map", Inputs: []*graph.Edge{s.forward()},
		New: func(main any, _ map[string]any) (runtime.Operator, error) {
			return &mapOp[T, U]{base: base[U]{out: main.(runtime.Output[U])}, fn: fn}, nil
		}})
}

type mapOp[T, U any] struct {
	base[U]
	fn func(T) U
}

func (m *mapOp[T, U]) ProcessRecord(r runtime.Record[T]) error {
	return m.out.Collect(runtime.Record[U]{Value: m.fn(r.Value), Time: r.Time})
}

// TryMap applies fn to every record; an error fails the job (or is routed
// by a dead-letter policy where the pipeline configures one).
func TryMap[T, U any](s Stream[T], fn func(T) (U, error)) Stream[U] {
	return add[U](s.env, &graph.Node{Name: "Map", Inputs: []*graph.Edge{s.forward()},
		New: func(main any, _ map[string]any) (runtime.Operator, error) {
			return &tryMapOp[T, U]{base: base[U]{out: main.(runtime.Output[U])}, fn: fn}, nil
		}})
}

type tryMapOp[T, U any] struct {
	base[U]
	fn func(T) (U, error)
}

func (m *tryMapOp[T, U]) ProcessRecord(r runtime.Record[T]) error {
	v, err := m.fn(r.Value)
	if err != nil {
		return err
	}
	return m.out.Collect(runtime.Record[U]{Value: v, Time: r.Time})
}

// Filter keeps the records for which fn returns true.
func Filter[T any](s Stream[T], fn func(T) bool) Stream[T] {
	return add[T](s.env, &graph.Node{Name: "Filter", Inputs: []*graph.Edge{s.forward()},
		New: func(main any, _ map[string]any) (runtime.Operator, error) {
			return &filterOp[T]{base: base[T]{out: main.(runtime.Output[T])}, fn: fn}, nil
		}})
}

type filterOp[T any] struct {
	base[T]
	fn func(T) bool
}

func (f *filterOp[T]) ProcessRecord(r runtime.Record[T]) error {
	if f.fn(r.Value) {
		return f.out.Collect(r)
	}
	return nil
}

// Collector receives the records a function emits. Collect returns the
// error of the operators downstream (a sink's write that failed, a
// failing map): from then on the collector refuses every record with
// that error, and the function's operator fails with it once the
// function returns, whether or not the function returned it; the job
// then restarts from its last checkpoint, so no record is lost. A
// function that emits many records may stop at the first error.
type Collector[T any] interface {
	Collect(v T) error
}

// FlatMap calls fn for every record; fn emits any number of records.
func FlatMap[T, U any](s Stream[T], fn func(v T, out Collector[U]) error) Stream[U] {
	return add[U](s.env, &graph.Node{Name: "FlatMap", Inputs: []*graph.Edge{s.forward()},
		New: func(main any, _ map[string]any) (runtime.Operator, error) {
			op := &flatMapOp[T, U]{base: base[U]{out: main.(runtime.Output[U])}, fn: fn}
			op.c.out = op.out
			return op, nil
		}})
}

type flatMapOp[T, U any] struct {
	base[U]
	fn func(T, Collector[U]) error
	c  collector[U]
}

// collector emits with a fixed timestamp and keeps the first error.
type collector[U any] struct {
	out runtime.Output[U]
	ts  int64
	err error
}

func (c *collector[U]) Collect(v U) error {
	if c.err == nil {
		c.err = c.out.Collect(runtime.Record[U]{Value: v, Time: c.ts})
	}
	return c.err
}

func (f *flatMapOp[T, U]) ProcessRecord(r runtime.Record[T]) error {
	f.c.ts = r.Time
	if err := f.fn(r.Value, &f.c); err != nil {
		return err
	}
	err := f.c.err
	f.c.err = nil
	return err
}

// sideOutputs resolves side-output tags to outputs.
type sideOutputs map[string]any

func emitSide[T any](sides sideOutputs, tag OutputTag[T], v T, ts int64) error {
	o, ok := sides[tag.id]
	if !ok {
		return nil // nothing consumes the tag
	}
	out, ok := o.(runtime.Output[T])
	if !ok {
		return fmt.Errorf("side output %q carries %T, not %T", tag.id, o, v)
	}
	return out.Collect(runtime.Record[T]{Value: v, Time: ts})
}

// Context is what a process function sees of its record: its timestamp,
// the watermark, processing time, and side outputs.
type Context struct {
	ts    int64
	wm    int64
	pt    runtime.ProcessingTimeService
	sides sideOutputs
	err   error
}

// Timestamp is the event timestamp of the record (or timer) being
// processed, runtime.NoTimestamp when it has none.
func (c *Context) Timestamp() int64 { return c.ts }

// Watermark is the operator's current event-time watermark.
func (c *Context) Watermark() int64 { return c.wm }

// ProcessingTime is the current processing time in unix milliseconds.
func (c *Context) ProcessingTime() int64 { return c.pt.Now() }

// Side emits v to the side output tag with the current timestamp.
func Side[T any](c *Context, tag OutputTag[T], v T) {
	if c.err == nil {
		c.err = emitSide(c.sides, tag, v, c.ts)
	}
}

// ProcessFunc handles every record of a non-keyed stream.
type ProcessFunc[T, O any] func(ctx *Context, v T, out Collector[O]) error

// Process calls fn for every record.
func Process[T, O any](s Stream[T], fn ProcessFunc[T, O]) Stream[O] {
	n := &graph.Node{Name: "Process", Inputs: []*graph.Edge{s.forward()}}
	n.New = func(main any, side map[string]any) (runtime.Operator, error) {
		op := &processOp[T, O]{base: base[O]{out: main.(runtime.Output[O])}, fn: fn}
		op.c.out = op.out
		op.ctx.sides = side
		return op, nil
	}
	return add[O](s.env, n)
}

type processOp[T, O any] struct {
	base[O]
	fn  ProcessFunc[T, O]
	c   collector[O]
	ctx Context
}

func (p *processOp[T, O]) Open(rc *runtime.OperatorContext) error {
	p.ctx.pt = rc.ProcessingTime
	p.ctx.wm = runtime.NoTimestamp
	return nil
}

func (p *processOp[T, O]) ProcessWatermark(wm int64) error {
	p.ctx.wm = wm
	return p.out.EmitWatermark(wm)
}

func (p *processOp[T, O]) ProcessRecord(r runtime.Record[T]) error {
	p.ctx.ts, p.c.ts = r.Time, r.Time
	if err := p.fn(&p.ctx, r.Value, &p.c); err != nil {
		return err
	}
	err := p.c.err
	if err == nil {
		err = p.ctx.err
	}
	p.c.err, p.ctx.err = nil, nil
	return err
}
