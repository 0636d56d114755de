package runtime

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
)

// SourceSpec is the untyped view of a source for the job driver: it creates
// the enumerator and decodes splits for readers.
type SourceSpec interface {
	Bounded() bool
	NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error)
	SplitCodec() connector.SplitCodec
}

// SourceOptions configure a source operator.
type SourceOptions struct {
	// WatermarkInterval is how often watermarks are generated (default 200ms).
	WatermarkInterval time.Duration
}

// NewSourceOperator returns the operator that runs src's reader at the
// head of a chain, assigning timestamps and generating per-split
// watermarks with ws.
//
// When side holds an Output[connector.BadRecord] under DeadLetterTag, bad
// records the reader rejects go there; otherwise they fail the job.
func NewSourceOperator[T any](src connector.Source[T], ws eventtime.Strategy[T], opts SourceOptions, out Output[T], side map[string]any) Operator {
	if opts.WatermarkInterval <= 0 {
		opts.WatermarkInterval = 200 * time.Millisecond
	}
	s := &sourceOperator[T]{src: src, ws: ws, opts: opts, out: out}
	s.ro.out = out
	if d, ok := side[DeadLetterTag].(Output[connector.BadRecord]); ok {
		s.ro.dead = d
	}
	return s
}

// SourceSpecOf adapts a typed source for the job driver.
func SourceSpecOf[T any](src connector.Source[T]) SourceSpec { return sourceSpec[T]{src} }

type sourceSpec[T any] struct{ src connector.Source[T] }

func (s sourceSpec[T]) Bounded() bool { return s.src.Bounded() }
func (s sourceSpec[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error) {
	return s.src.NewEnumerator(ctx, restored)
}
func (s sourceSpec[T]) SplitCodec() connector.SplitCodec { return s.src.SplitCodec() }

// Operator state of a source: the reader's splits (spread over the
// subtasks on restore), and the reader's own state (connector.StatefulReader),
// kept whole per old subtask (see readerStateFor).
const (
	splitsState = "source-splits"
	readerState = "source-reader-state"
)

type sourceOperator[T any] struct {
	src     connector.Source[T]
	ws      eventtime.Strategy[T]
	opts    SourceOptions
	ctx     *OperatorContext
	out     Output[T]
	reader  connector.Reader[T]
	codec   connector.SplitCodec
	ro      readerOutput[T]
	stopped bool
}

func (s *sourceOperator[T]) Open(ctx *OperatorContext) error {
	s.ctx = ctx
	s.codec = s.src.SplitCodec()
	s.ro.init(s.ws, ctx.ProcessingTime)
	r, err := s.src.NewReader(readerContext{ctx: ctx})
	if err != nil {
		return fmt.Errorf("create reader: %w", err)
	}
	s.reader = r
	if sr, ok := r.(connector.StatefulReader); ok && ctx.Restored != nil {
		st, err := readerStateFor(ctx.Restored.Unions[readerState], ctx.Subtask, ctx.Parallelism)
		if err != nil {
			return fmt.Errorf("restore reader state from checkpoint %d: %w", ctx.Restored.CheckpointID, err)
		}
		if err := sr.RestoreReaderState(st); err != nil {
			return fmt.Errorf("restore reader state: %w", err)
		}
	}
	if ctx.Restored != nil {
		var splits []connector.Split
		for _, b := range ctx.Restored.Lists[splitsState] {
			sp, err := s.codec.Decode(b)
			if err != nil {
				return fmt.Errorf("restore split from checkpoint %d: %w", ctx.Restored.CheckpointID, err)
			}
			splits = append(splits, sp)
		}
		if len(splits) > 0 {
			if err := r.AddSplits(splits); err != nil {
				return fmt.Errorf("restore splits: %w", err)
			}
		}
	}
	if err := r.Start(); err != nil {
		return fmt.Errorf("start reader: %w", err)
	}
	if s.ws.HasWatermarks() {
		s.scheduleWatermark(ctx.ProcessingTime.Now())
	}
	return nil
}

func (s *sourceOperator[T]) scheduleWatermark(now int64) {
	s.ctx.ProcessingTime.Schedule(now+s.opts.WatermarkInterval.Milliseconds(), func(now int64) error {
		if err := s.ro.periodic(now); err != nil {
			return err
		}
		s.scheduleWatermark(now)
		return nil
	})
}

func (s *sourceOperator[T]) Close() error {
	if s.reader == nil {
		return nil
	}
	return s.reader.Close()
}

func (s *sourceOperator[T]) pollNext() (connector.InputStatus, error) {
	if s.stopped {
		return connector.EndOfInput, nil
	}
	st, err := s.reader.PollNext(&s.ro)
	if s.ro.err != nil {
		return 0, s.ro.err
	}
	return st, err
}

func (s *sourceOperator[T]) available() <-chan struct{} { return s.reader.Available() }

func (s *sourceOperator[T]) addSplits(splits []connector.Split) error {
	return s.reader.AddSplits(splits)
}

func (s *sourceOperator[T]) noMoreSplits() { s.reader.NoMoreSplits() }

func (s *sourceOperator[T]) stop() { s.stopped = true }

func (s *sourceOperator[T]) endOfInput() error {
	if s.stopped {
		return nil
	}
	return s.out.EmitWatermark(eventtime.MaxWatermark)
}

func (s *sourceOperator[T]) SnapshotState(cp CheckpointInfo, snap *OperatorSnapshot) error {
	splits, err := s.reader.SnapshotState(cp.ID)
	if err != nil {
		return err
	}
	for _, sp := range splits {
		b, err := s.codec.Encode(sp)
		if err != nil {
			return fmt.Errorf("encode split %s: %w", sp.SplitID(), err)
		}
		snap.AddList(splitsState, b)
	}
	if sr, ok := s.reader.(connector.StatefulReader); ok {
		st, err := sr.SnapshotReaderState(cp.ID)
		if err != nil {
			return fmt.Errorf("snapshot reader state: %w", err)
		}
		// Union state, each entry tagged with this subtask: every subtask
		// of a restore sees all of it and keeps the entries of the old
		// subtasks it takes over.
		for _, e := range st {
			snap.AddUnion(readerState, append(binary.AppendUvarint(nil, uint64(s.ctx.Subtask)), e...))
		}
	}
	return nil
}

// readerStateFor returns the reader state that subtask of par restores
// from the tagged entries of all old subtasks: those of old subtask s go
// to subtask s mod par, in the order of the old subtasks.
func readerStateFor(entries [][]byte, subtask, par int) ([][]byte, error) {
	type tagged struct {
		from int
		e    []byte
	}
	var mine []tagged
	for _, b := range entries {
		from, n := binary.Uvarint(b)
		if n <= 0 || from > math.MaxInt32 {
			return nil, errors.New("malformed reader state entry")
		}
		if int(from)%par == subtask {
			mine = append(mine, tagged{int(from), b[n:]})
		}
	}
	slices.SortStableFunc(mine, func(a, b tagged) int { return cmp.Compare(a.from, b.from) })
	out := make([][]byte, len(mine))
	for i, t := range mine {
		out[i] = t.e
	}
	return out, nil
}

func (s *sourceOperator[T]) NotifyCheckpointComplete(id int64) error {
	if l, ok := s.reader.(connector.CheckpointListener); ok {
		return l.NotifyCheckpointComplete(id)
	}
	return nil
}

func (s *sourceOperator[T]) NotifyCheckpointAborted(id int64) error {
	if l, ok := s.reader.(connector.CheckpointListener); ok {
		return l.NotifyCheckpointAborted(id)
	}
	return nil
}

// readerContext is the runtime's connector.ReaderContext.
type readerContext struct{ ctx *OperatorContext }

func (r readerContext) Subtask() int         { return r.ctx.Subtask }
func (r readerContext) Parallelism() int     { return r.ctx.Parallelism }
func (r readerContext) Logger() *slog.Logger { return r.ctx.Logger }

// Context is the task's: it ends with the attempt.
func (r readerContext) Context() context.Context { return r.ctx.task.ctx }
func (r readerContext) RequestSplit() {
	t := r.ctx.task
	t.att.send(taskEvent{kind: evSplitRequest, vertex: t.v.ID, subtask: t.subtask})
}

// readerOutput assigns timestamps, feeds watermark generators (one per
// split, plus one for records emitted without a split) and forwards
// records. The first downstream error is kept and reported by pollNext.
type readerOutput[T any] struct {
	out    Output[T]
	ws     eventtime.Strategy[T]
	wm     bool
	pt     ProcessingTimeService
	comb   *eventtime.Combiner
	main   *splitOutput[T]
	splits map[string]*splitOutput[T]
	idle   bool
	err    error
	dead   Output[connector.BadRecord] // nil: bad records fail the job
}

type splitOutput[T any] struct {
	ro       *readerOutput[T]
	gen      eventtime.Generator
	slot     int
	lastSeen int64 // processing time of the last record, for idleness
	idle     bool
}

func (r *readerOutput[T]) init(ws eventtime.Strategy[T], pt ProcessingTimeService) {
	r.ws = ws
	r.wm = ws.HasWatermarks()
	r.pt = pt
	r.comb = eventtime.NewCombiner(0)
	r.splits = map[string]*splitOutput[T]{}
}

func (r *readerOutput[T]) newSplit() *splitOutput[T] {
	so := &splitOutput[T]{ro: r, lastSeen: r.pt.Now()}
	if r.wm {
		so.gen = r.ws.NewGenerator()
		so.slot = r.comb.Add()
	}
	return so
}

func (r *readerOutput[T]) Collect(v T) { r.CollectAt(v, NoTimestamp) }

func (r *readerOutput[T]) CollectAt(v T, ts int64) {
	if r.main == nil {
		r.main = r.newSplit()
	}
	r.main.CollectAt(v, ts)
}

func (r *readerOutput[T]) Split(id string) connector.SplitOutput[T] {
	so, ok := r.splits[id]
	if !ok {
		so = r.newSplit()
		r.splits[id] = so
	}
	return so
}

// DeadLetterTag is the side-output tag of a source's bad records
// (connector.BadRecord).
const DeadLetterTag = "dead-letter"

func (r *readerOutput[T]) Reject(bad connector.BadRecord) error {
	if r.dead == nil {
		return &connector.BadRecordError{Record: bad}
	}
	if err := r.dead.Collect(Record[connector.BadRecord]{Value: bad, Time: NoTimestamp}); err != nil {
		return err
	}
	return nil
}

func (r *readerOutput[T]) ReleaseSplit(id string) {
	so, ok := r.splits[id]
	if !ok {
		return
	}
	delete(r.splits, id)
	if r.wm {
		if wm, adv := r.comb.Remove(so.slot); adv {
			r.emitWatermark(wm)
		}
	}
}

func (s *splitOutput[T]) Collect(v T) { s.CollectAt(v, NoTimestamp) }

func (s *splitOutput[T]) CollectAt(v T, ts int64) {
	r := s.ro
	if r.err != nil {
		return
	}
	if r.ws.HasTimestamps() {
		ts = r.ws.Timestamp(v, ts)
	}
	if s.gen != nil {
		if ts != NoTimestamp {
			s.gen.OnEvent(ts)
		}
		if s.idle {
			s.idle = false
			r.comb.SetIdle(s.slot, false)
		}
		s.lastSeen = -1 // refreshed lazily at the next periodic emit
	}
	if r.idle {
		// The reader was idle (no split, or all splits quiet): a record
		// makes it active again before the record goes out.
		r.idle = false
		if err := r.out.EmitStatus(false); err != nil {
			r.err = err
			return
		}
	}
	if err := r.out.Collect(Record[T]{Value: v, Time: ts}); err != nil {
		r.err = err
	}
}

func (r *readerOutput[T]) emitWatermark(wm int64) {
	if r.err != nil {
		return
	}
	if err := r.out.EmitWatermark(wm); err != nil {
		r.err = err
	}
}

// periodic asks every generator for its watermark and checks idleness.
func (r *readerOutput[T]) periodic(now int64) error {
	timeout := r.ws.IdleTimeout().Milliseconds()
	check := func(s *splitOutput[T]) {
		if s == nil {
			return
		}
		if wm, adv := r.comb.Update(s.slot, s.gen.OnPeriodicEmit()); adv {
			r.emitWatermark(wm)
		}
		if s.lastSeen < 0 {
			s.lastSeen = now
		}
		if timeout > 0 && !s.idle && now-s.lastSeen >= timeout {
			s.idle = true
			if wm, adv := r.comb.SetIdle(s.slot, true); adv {
				r.emitWatermark(wm)
			}
		}
	}
	check(r.main)
	for _, s := range r.splits {
		check(s)
	}
	allIdle := r.main == nil && len(r.splits) == 0 || r.comb.AllIdle()
	if allIdle && !r.idle && (timeout > 0 || r.main == nil && len(r.splits) == 0) {
		r.idle = true
		if err := r.out.EmitStatus(true); err != nil && r.err == nil {
			r.err = err
		}
	}
	return r.err
}
