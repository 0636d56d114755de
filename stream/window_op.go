package stream

import (
	"math"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
)

// The window operator keeps, per key, in the keyed backend:
//
//   - "window-contents": map state from window to its contents S (the
//     reduced value, the accumulator, or the list of records);
//   - "window-sessions": for merging assigners, the windows of the key's
//     eventtime.MergingSet;
//   - "window-timers": timers with the window as namespace. Event time: one
//     at window.MaxTimestamp() that fires the window, and one at
//     eventtime.CleanupTime(window, lateness) that purges it (the same
//     timer when lateness is 0). Processing time: one at MaxTimestamp that
//     fires and purges.
//
// A window that fires emits only if it has contents; a purge removes its
// contents and its place in the merging set.

// windowConfig is the part of a WindowedStream the operator needs.
type windowConfig struct {
	assigner eventtime.Assigner
	merging  bool
	procTime bool
	lateness int64 // milliseconds; 0 on processing time
}

// windowFuncs is what distinguishes ReduceWindow, AggregateWindow,
// AggregateWindowWith and ProcessWindow: how a record enters a window's
// contents S, how the contents of merging windows combine, and what a
// firing window emits.
type windowFuncs[K comparable, T, S, O any] struct {
	codec state.Codec[S] // nil: state.DefaultCodec[S]()
	// add adds v to the contents acc (ok false: the window has none yet).
	add func(acc S, ok bool, v T) S
	// merge combines the contents of two windows, a's being the earlier.
	merge func(a, b S) S
	// emit emits the result of a firing window.
	emit func(ctx *WindowContext[K], acc S, out Collector[O]) error
}

// lateWarnInterval is how often, in processing time, the count of dropped
// late records is logged at most.
const lateWarnInterval = 10_000 // milliseconds

type windowOp[K comparable, T, S, O any] struct {
	base[O]
	keyedCore[K]
	cfg   windowConfig
	keyFn func(T) K
	fns   windowFuncs[K, T, S, O]

	contents  state.MapState[eventtime.TimeWindow, S]
	sessions  state.ValueState[[]eventtime.TimeWindow] // merging assigners only
	timers    *state.Timers[K, eventtime.TimeWindow]
	scheduled int64 // earliest processing time a callback is scheduled for; 0 none

	wm      int64 // current watermark
	buf     []eventtime.TimeWindow
	c       collector[O]
	ctx     WindowContext[K]
	lateOut func(r runtime.Record[T]) error // nil: late records are dropped

	dropped  int64 // late records dropped
	reported int64 // dropped count in the last warning
	lastWarn int64 // processing time of the last warning
}

func (op *windowOp[K, T, S, O]) Open(rc *runtime.OperatorContext) error {
	if err := op.open(rc); err != nil {
		return err
	}
	op.wm = eventtime.MinWatermark
	op.ctx.pt = rc.ProcessingTime
	op.ctx.wm = op.wm
	var err error
	if op.contents, err = state.Map[K](op.b, "window-contents", windowCodec{}, op.fns.codec); err != nil {
		return err
	}
	if op.cfg.merging {
		if op.sessions, err = state.Value[K](op.b, "window-sessions", state.Codec[[]eventtime.TimeWindow](sliceCodec[eventtime.TimeWindow]{elem: windowCodec{}})); err != nil {
			return err
		}
	}
	if op.timers, err = state.NewTimers[K](op.b, "window-timers", state.Codec[eventtime.TimeWindow](windowCodec{})); err != nil {
		return err
	}
	if next, ok := op.timers.NextProcessingTime(); ok {
		op.scheduleProcessing(next)
	}
	return nil
}

func (op *windowOp[K, T, S, O]) Close() error {
	if op.dropped > op.reported {
		op.warnDropped()
	}
	return nil
}

func (op *windowOp[K, T, S, O]) ProcessRecord(r runtime.Record[T]) error {
	if err := op.b.SetCurrentKey(op.keyFn(r.Value)); err != nil {
		return err
	}
	ts := r.Time
	if op.cfg.procTime {
		ts = op.rc.ProcessingTime.Now()
	} else if ts == runtime.NoTimestamp {
		return ErrNoTimestamp
	}
	op.buf = op.cfg.assigner.Assign(ts, op.buf[:0])
	var (
		skipped = true
		err     error
	)
	if op.cfg.merging {
		skipped, err = op.addMerging(r.Value)
	} else {
		for _, w := range op.buf {
			if op.isLate(w) {
				continue
			}
			skipped = false
			op.add(w, r.Value)
			if err = op.onElement(w); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	if skipped && op.isElementLate(ts) {
		return op.late(r)
	}
	return nil
}

// addMerging adds v to the windows of op.buf through the key's merging
// set. It reports whether every window was late.
func (op *windowOp[K, T, S, O]) addMerging(v T) (skipped bool, err error) {
	stored, _ := op.sessions.Value()
	set := eventtime.NewMergingSet(stored)
	changed := false
	skipped = true
	for _, w := range op.buf {
		before := set.Len()
		result, merged := set.Add(w)
		if len(merged) > 0 || set.Len() != before {
			changed = true
		}
		if len(merged) > 0 {
			op.mergeInto(result, merged)
		}
		if op.isLate(result) {
			// Only a new window on its own can be late: windows in the set
			// are not, or their cleanup would have removed them.
			set.Remove(result)
			op.contents.Remove(result)
			continue
		}
		skipped = false
		op.add(result, v)
		if err = op.onElement(result); err != nil {
			break
		}
	}
	if changed {
		if set.Len() == 0 {
			op.sessions.Clear()
		} else {
			op.sessions.Update(set.Windows())
		}
	}
	return skipped, err
}

// mergeInto moves the contents of the windows merged into result, deleting
// their timers; onElement registers result's.
func (op *windowOp[K, T, S, O]) mergeInto(result eventtime.TimeWindow, merged []eventtime.TimeWindow) {
	var (
		acc S
		ok  bool
	)
	for _, m := range merged {
		if s, has := op.contents.Get(m); has {
			if ok {
				acc = op.fns.merge(acc, s)
			} else {
				acc, ok = s, true
			}
			op.contents.Remove(m)
		}
		op.deleteTimers(m)
	}
	if ok {
		op.contents.Put(result, acc)
	}
}

func (op *windowOp[K, T, S, O]) add(w eventtime.TimeWindow, v T) {
	acc, ok := op.contents.Get(w)
	op.contents.Put(w, op.fns.add(acc, ok, v))
}

// onElement is the default trigger's reaction to a record added to w: a
// timer at w.MaxTimestamp(), or on event time, when the watermark passed
// it already (a record within the allowed lateness), a firing at once;
// and the cleanup timer.
func (op *windowOp[K, T, S, O]) onElement(w eventtime.TimeWindow) error {
	end := w.MaxTimestamp()
	if op.cfg.procTime {
		op.timers.RegisterProcessingTime(w, end)
		op.scheduleProcessing(end)
		return nil
	}
	if end <= op.wm {
		if err := op.fire(w); err != nil {
			return err
		}
	} else {
		op.timers.RegisterEventTime(w, end)
	}
	if cl := eventtime.CleanupTime(w, op.cfg.lateness); cl != end {
		op.timers.RegisterEventTime(w, cl)
	}
	return nil
}

func (op *windowOp[K, T, S, O]) deleteTimers(w eventtime.TimeWindow) {
	end := w.MaxTimestamp()
	if op.cfg.procTime {
		op.timers.DeleteProcessingTime(w, end)
		return
	}
	op.timers.DeleteEventTime(w, end)
	if cl := eventtime.CleanupTime(w, op.cfg.lateness); cl != end {
		op.timers.DeleteEventTime(w, cl)
	}
}

// isLate reports whether w's state is already cleaned up (event time only).
func (op *windowOp[K, T, S, O]) isLate(w eventtime.TimeWindow) bool {
	return !op.cfg.procTime && eventtime.IsLate(w, op.wm, op.cfg.lateness)
}

// isElementLate reports whether a record with timestamp ts is later than
// the allowed lateness (Flink's rule for the late output).
func (op *windowOp[K, T, S, O]) isElementLate(ts int64) bool {
	if op.cfg.procTime {
		return false
	}
	if ts > math.MaxInt64-op.cfg.lateness {
		return op.wm == math.MaxInt64
	}
	return ts+op.cfg.lateness <= op.wm
}

// late sends r to the late output, or drops and counts it.
func (op *windowOp[K, T, S, O]) late(r runtime.Record[T]) error {
	if op.lateOut != nil {
		return op.lateOut(r)
	}
	op.dropped++
	if op.reported == 0 || op.rc.ProcessingTime.Now()-op.lastWarn >= lateWarnInterval {
		op.warnDropped()
	}
	return nil
}

func (op *windowOp[K, T, S, O]) warnDropped() {
	op.reported, op.lastWarn = op.dropped, op.rc.ProcessingTime.Now()
	op.rc.Logger.Warn("window dropped late records",
		"dropped", op.dropped, "watermark", op.wm, "allowed_lateness_ms", op.cfg.lateness,
		"hint", "raise AllowedLateness or the source's out-of-orderness, or keep them with LateRecords")
}

// fire emits the result of window w of the current key, if it has contents.
func (op *windowOp[K, T, S, O]) fire(w eventtime.TimeWindow) error {
	acc, ok := op.contents.Get(w)
	if !ok {
		return nil
	}
	ts := w.MaxTimestamp()
	op.ctx.key, op.ctx.win = op.b.CurrentKey(), w
	op.ctx.ts, op.c.ts, op.ctx.wm = ts, ts, op.wm
	err := op.fns.emit(&op.ctx, acc, &op.c)
	if err == nil {
		err = op.c.err
	}
	if err == nil {
		err = op.ctx.err
	}
	op.c.err, op.ctx.err = nil, nil
	return err
}

// purge drops the state of window w of the current key.
func (op *windowOp[K, T, S, O]) purge(w eventtime.TimeWindow) {
	op.contents.Remove(w)
	if !op.cfg.merging {
		return
	}
	stored, _ := op.sessions.Value()
	set := eventtime.NewMergingSet(stored)
	set.Remove(w)
	if set.Len() == len(stored) {
		return
	}
	if set.Len() == 0 {
		op.sessions.Clear()
	} else {
		op.sessions.Update(set.Windows())
	}
}

// onTimer handles the timer of window w at ts: a firing at MaxTimestamp, a
// purge at the cleanup time (both when they coincide).
func (op *windowOp[K, T, S, O]) onTimer(_ K, w eventtime.TimeWindow, ts int64) error {
	if ts == w.MaxTimestamp() {
		if err := op.fire(w); err != nil {
			return err
		}
	}
	if ts == op.cleanupTime(w) {
		op.purge(w)
	}
	return nil
}

func (op *windowOp[K, T, S, O]) cleanupTime(w eventtime.TimeWindow) int64 {
	if op.cfg.procTime {
		return w.MaxTimestamp()
	}
	return eventtime.CleanupTime(w, op.cfg.lateness)
}

// ProcessWatermark fires the windows the watermark reached, then forwards it.
func (op *windowOp[K, T, S, O]) ProcessWatermark(wm int64) error {
	op.wm = wm
	if err := op.timers.AdvanceWatermark(wm, op.onTimer); err != nil {
		return err
	}
	return op.out.EmitWatermark(wm)
}

// EndInput fires the processing-time windows still open: no record will
// join them. (Event-time windows fired with the final watermark.)
func (op *windowOp[K, T, S, O]) EndInput() error {
	return op.timers.AdvanceProcessingTime(math.MaxInt64, op.onTimer)
}

// scheduleProcessing makes sure a processing-time callback runs at ts (as
// keyedProcessCore does for its timers).
func (op *windowOp[K, T, S, O]) scheduleProcessing(ts int64) {
	if op.scheduled != 0 && op.scheduled <= ts {
		return
	}
	op.scheduled = ts
	op.rc.ProcessingTime.Schedule(ts, func(now int64) error {
		if op.scheduled == ts {
			op.scheduled = 0
		}
		if err := op.timers.AdvanceProcessingTime(now, op.onTimer); err != nil {
			return err
		}
		if next, ok := op.timers.NextProcessingTime(); ok {
			op.scheduleProcessing(next)
		}
		return nil
	})
}
