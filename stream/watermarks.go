package stream

import (
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
)

// AssignTimestamps assigns timestamps and generates watermarks with ws in
// every subtask of the operator (for sources that do not do it per split).
// Watermarks from upstream are dropped: ws replaces them.
func AssignTimestamps[T any](s Stream[T], ws eventtime.Strategy[T]) Stream[T] {
	return add[T](s.env, &graph.Node{Name: "Timestamps/Watermarks", Inputs: []*graph.Edge{s.forward()},
		New: func(main any, _ map[string]any) (runtime.Operator, error) {
			return &assignOp[T]{base: base[T]{out: main.(runtime.Output[T])}, ws: ws}, nil
		}})
}

type assignOp[T any] struct {
	base[T]
	ws       eventtime.Strategy[T]
	gen      eventtime.Generator
	idle     *eventtime.IdlenessTracker
	pt       runtime.ProcessingTimeService
	last     int64
	isIdle   bool
	interval int64
	now      int64
}

func (a *assignOp[T]) Open(rc *runtime.OperatorContext) error {
	a.gen = a.ws.NewGenerator()
	a.pt = rc.ProcessingTime
	a.last = eventtime.MinWatermark
	a.interval = (200 * time.Millisecond).Milliseconds()
	if t := a.ws.IdleTimeout(); t > 0 {
		a.idle = eventtime.NewIdlenessTracker(t)
	}
	if a.ws.HasWatermarks() {
		a.schedule(a.pt.Now())
	}
	return nil
}

func (a *assignOp[T]) schedule(now int64) {
	a.pt.Schedule(now+a.interval, func(now int64) error {
		a.now = now
		if err := a.emit(now); err != nil {
			return err
		}
		a.schedule(now)
		return nil
	})
}

func (a *assignOp[T]) emit(now int64) error {
	if wm := a.gen.OnPeriodicEmit(); wm > a.last {
		a.last = wm
		if err := a.out.EmitWatermark(wm); err != nil {
			return err
		}
	}
	if a.idle != nil && !a.isIdle && a.idle.IsIdle(now) {
		a.isIdle = true
		return a.out.EmitStatus(true)
	}
	return nil
}

func (a *assignOp[T]) ProcessRecord(r runtime.Record[T]) error {
	if a.ws.HasTimestamps() {
		r.Time = a.ws.Timestamp(r.Value, r.Time)
	}
	if r.Time != runtime.NoTimestamp {
		a.gen.OnEvent(r.Time)
	}
	if a.idle != nil {
		a.idle.OnEvent(a.now)
		if a.isIdle {
			a.isIdle = false
			if err := a.out.EmitStatus(false); err != nil {
				return err
			}
		}
	}
	return a.out.Collect(r)
}

// ProcessWatermark drops upstream watermarks, except the final one.
func (a *assignOp[T]) ProcessWatermark(wm int64) error {
	if wm == eventtime.MaxWatermark {
		a.last = wm
		return a.out.EmitWatermark(wm)
	}
	return nil
}
