package stream

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
)

// ErrNoTimestamp is the error (wrapped in the operator's error) of an
// event-time window that receives a record without a timestamp.
var ErrNoTimestamp = errors.New("event-time window got a record without a timestamp: " +
	"assign timestamps with the source's watermark strategy (stream.FromSource with " +
	"e.g. eventtime.BoundedOutOfOrderness[T](d).WithTimestamps(fn)) or with stream.AssignTimestamps, " +
	"or window on processing time (WindowedStream.ProcessingTime)")

// WindowedStream is a keyed stream cut into windows by an
// [eventtime.Assigner]. It only holds settings: ReduceWindow,
// AggregateWindow, AggregateWindowWith and ProcessWindow turn it into a
// stream of per-window results.
//
// Windows follow Flink's default triggers. On event time (the default) a
// window fires once, with the result timestamped window.MaxTimestamp(), when
// the watermark reaches its MaxTimestamp; on processing time when the clock
// does. Each key has its own windows, kept in keyed state, so they are
// checkpointed and rescaled by key group.
type WindowedStream[K comparable, T any] struct {
	k        KeyedStream[K, T]
	assigner eventtime.Assigner
	procTime bool
	lateness int64 // milliseconds
	lateTag  *OutputTag[T]
	// refused are invalid settings, recorded against the window operator
	// when it is added.
	refused []invalidSetting
}

// Window cuts the keyed stream k into the windows of a: eventtime.Tumbling,
// eventtime.Sliding, or eventtime.Session (merging). Windows are on event
// time: records must carry timestamps (a job fails with [ErrNoTimestamp]
// otherwise) and windows fire as the watermark passes them. Window panics
// if a is nil.
func Window[K comparable, T any](k KeyedStream[K, T], a eventtime.Assigner) WindowedStream[K, T] {
	if a == nil {
		panic("stream: Window: nil assigner")
	}
	return WindowedStream[K, T]{k: k, assigner: a}
}

// ProcessingTime makes the windows follow processing time: a record belongs
// to the windows of the processing time at which the window operator
// receives it, and a window fires when the clock (the Env's clock,
// sluicetest.ManualClock in tests) reaches its MaxTimestamp. Records need no
// timestamps, no record is ever late, and AllowedLateness has no effect.
// When the input ends, the windows still open fire at once (Flink drops
// them; sluice does not lose records silently).
func (w WindowedStream[K, T]) ProcessingTime() WindowedStream[K, T] {
	w.procTime = true
	return w
}

// AllowedLateness keeps the state of an event-time window until the
// watermark passes window.MaxTimestamp()+d (default 0). A record that
// arrives after its window fired but within d is added to the window, which
// fires again at once with the updated result. Records later than that are
// late: see LateRecords. d must be a non-negative whole number of
// milliseconds (Execute reports another d).
func (w WindowedStream[K, T]) AllowedLateness(d time.Duration) WindowedStream[K, T] {
	if d < 0 || d%time.Millisecond != 0 {
		w.refused = append(slices.Clip(w.refused), invalidSetting{setting: fmt.Sprintf("AllowedLateness(%v)", d),
			problem: "the allowed lateness must be a non-negative whole number of milliseconds"})
		return w
	}
	w.lateness = d.Milliseconds()
	return w
}

// LateRecords sends the records that are late for every window they belong
// to (their windows' state was already cleaned up, see AllowedLateness) to
// the side output tag, with their own timestamps; read them with
// SideOutput(result, tag). Without it, or when nothing reads the tag, late
// records are dropped and counted: the operator logs a warning with the
// running count at most every 10 seconds of processing time, and the final
// count when it closes.
func (w WindowedStream[K, T]) LateRecords(tag OutputTag[T]) WindowedStream[K, T] {
	w.lateTag = &tag
	return w
}

// name is the name of the window operator, e.g. "Window(Tumbling(size=10s))".
func (w WindowedStream[K, T]) name() string {
	if w.procTime {
		return "Window(" + w.assigner.String() + ", processing time)"
	}
	return "Window(" + w.assigner.String() + ")"
}

// WindowContext is what ProcessWindow's function sees of the window that
// fires: its key and window, and through the embedded Context the
// watermark, the processing time, the timestamp of the results
// (Window().MaxTimestamp()) and side outputs (stream.Side(&ctx.Context,
// tag, v)).
type WindowContext[K comparable] struct {
	Context
	key K
	win eventtime.TimeWindow
}

// Key is the key of the window.
func (c *WindowContext[K]) Key() K { return c.key }

// Window is the window that fires.
func (c *WindowContext[K]) Window() eventtime.TimeWindow { return c.win }

// ReduceWindow combines the records of each window with fn, pairwise, as
// they arrive (one value per window in state), and emits the result when
// the window fires. For session windows fn also combines the results of
// windows that merge, the earlier window's first.
func ReduceWindow[K comparable, T any](w WindowedStream[K, T], fn func(a, b T) T) Stream[T] {
	return windowNode(w, windowFuncs[K, T, T, T]{
		add: func(acc T, ok bool, v T) T {
			if !ok {
				return v
			}
			return fn(acc, v)
		},
		merge: fn,
		emit: func(_ *WindowContext[K], acc T, out Collector[T]) error {
			out.Collect(acc)
			return nil
		},
	})
}

// AggregateWindow adds the records of each window to an accumulator of agg
// as they arrive (one accumulator per window in state) and emits
// agg.Result when the window fires. Session windows that merge merge their
// accumulators with agg.Merge. Accumulators are stored with
// state.DefaultCodec.
func AggregateWindow[K comparable, T, A, O any](w WindowedStream[K, T], agg AggregateFunction[T, A, O]) Stream[O] {
	return windowNode(w, windowFuncs[K, T, A, O]{
		add:   aggAdd[T, A, O](agg),
		merge: agg.Merge,
		emit: func(_ *WindowContext[K], acc A, out Collector[O]) error {
			out.Collect(agg.Result(acc))
			return nil
		},
	})
}

// AggregateWindowWith is AggregateWindow whose result goes through fn, which
// also sees the key and the window (Flink's aggregate(agg, windowFunction)).
// fn may emit any number of records; an error fails the job.
func AggregateWindowWith[K comparable, T, A, O, R any](w WindowedStream[K, T], agg AggregateFunction[T, A, O],
	fn func(key K, win eventtime.TimeWindow, result O, out Collector[R]) error) Stream[R] {
	return windowNode(w, windowFuncs[K, T, A, R]{
		add:   aggAdd[T, A, O](agg),
		merge: agg.Merge,
		emit: func(ctx *WindowContext[K], acc A, out Collector[R]) error {
			return fn(ctx.key, ctx.win, agg.Result(acc), out)
		},
	})
}

// ProcessWindow keeps every record of each window (in map state from window
// to the list of its records, encoded element by element with
// state.DefaultCodec[T]) and calls fn with all of them, in arrival order,
// when the window fires. fn must not modify or keep elems. For session
// windows that merge, the lists are concatenated, the earlier window's
// first. An error from fn fails the job.
func ProcessWindow[K comparable, T, O any](w WindowedStream[K, T], fn func(ctx *WindowContext[K], elems []T, out Collector[O]) error) Stream[O] {
	return windowNode(w, windowFuncs[K, T, []T, O]{
		codec: sliceCodec[T]{elem: state.DefaultCodec[T]()},
		add: func(acc []T, _ bool, v T) []T {
			// Appending in place is safe: a snapshot that shares the array
			// sees a prefix that is never written again.
			return append(acc, v)
		},
		merge: func(a, b []T) []T { return slices.Concat(a, b) },
		emit: func(ctx *WindowContext[K], elems []T, out Collector[O]) error {
			return fn(ctx, elems[:len(elems):len(elems)], out)
		},
	})
}

func aggAdd[T, A, O any](agg AggregateFunction[T, A, O]) func(A, bool, T) A {
	return func(acc A, ok bool, v T) A {
		if !ok {
			acc = agg.CreateAccumulator()
		}
		return agg.Add(acc, v)
	}
}

// windowNode adds the window operator for w with the functions fns.
func windowNode[K comparable, T, S, O any](w WindowedStream[K, T], fns windowFuncs[K, T, S, O]) Stream[O] {
	s := keyedNode(w.k, w.name(), func(out runtime.Output[O], side map[string]any) runtime.Operator {
		op := &windowOp[K, T, S, O]{base: base[O]{out: out}, cfg: w.config(), keyFn: w.k.keyFn, fns: fns}
		op.c.out = out
		op.ctx.sides = side
		if w.lateTag != nil {
			if _, ok := side[w.lateTag.id]; ok {
				tag := *w.lateTag
				op.lateOut = func(r runtime.Record[T]) error { return emitSide(op.ctx.sides, tag, r.Value, r.Time) }
			}
		}
		return op
	})
	for _, r := range w.refused {
		s.env.refuse(s.node, r.setting, r.problem)
	}
	return s
}

func (w WindowedStream[K, T]) config() windowConfig {
	c := windowConfig{assigner: w.assigner, merging: w.assigner.IsMerging(), procTime: w.procTime, lateness: w.lateness}
	if c.procTime {
		c.lateness = 0
	}
	return c
}
