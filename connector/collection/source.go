package collection

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/wire"
)

func init() {
	connector.Register(connector.Info{Name: "collection", Role: "source", System: "Go slices and generator functions",
		Cases: []connector.Case{
			{Guarantee: connector.ExactlyOnce, When: "with checkpoints (the position of every split is state)"},
			{Guarantee: connector.AtMostOnce, When: "without checkpoints"},
		}, Test: "in-process, SIGKILL torture test (internal/crashtest)"})
}

// defaultPollSize is how many records a reader emits per PollNext unless
// WithPollSize says otherwise.
const defaultPollSize = 256

// Source emits fn(i) for i in [0, n), or forever when n < 0.
type Source[T any] struct {
	n          int64
	newFn      func() (func(i int64) T, error)                         // called once per reader
	newBadFn   func() (func(i int64) (T, *connector.BadRecord), error) // GenerateOrReject: instead of newFn
	rate       float64                                                 // records per second per reader; 0 = unlimited
	ts         func(i int64) int64
	interleave bool
	pollSize   int
	name       string // prefix of split IDs
	clock      clock  // nil: the system clock
}

// clock is the time a rate-limited reader paces itself by (a fake one in
// tests).
type clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func())
}

type systemClock struct{}

func (systemClock) Now() time.Time                      { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) { time.AfterFunc(d, f) }

// Option configures a Source.
type Option func(*options)

// options are the settings of a Source that do not depend on its type.
type options struct {
	rate       float64 // records per second per reader; 0 = unlimited
	ts         func(i int64) int64
	interleave bool
	pollSize   int
	name       string // prefix of split IDs
}

// Rate limits each reader (source subtask) to perSecond records per
// second of processing time (default 0: unlimited).
//
// A reader keeps a schedule: its k-th record is due k/perSecond seconds
// after its first one, whenever it is woken. A late wake-up (a busy
// machine, backpressure, a checkpoint) is made up by emitting every record
// due by then, so the rate holds on average instead of each delay slowing
// the source down for good. It makes up at most one second of records
// (perSecond, at least 1): after a longer stall the schedule starts again
// from then, so a source never bursts more than that. A reader created
// after a restore or a failover starts its schedule afresh from the
// restored position.
func Rate(perSecond float64) Option { return func(o *options) { o.rate = perSecond } }

// Timestamps gives record i the event timestamp ts(i) (default: none).
// ts is called from the goroutines of all source subtasks.
func Timestamps(ts func(i int64) int64) Option { return func(o *options) { o.ts = ts } }

// Interleaved deals the indexes of a bounded source out to the splits of a
// fresh start one by one: split k of p emits k, k+p, k+2p, ... below n
// instead of the k-th of p contiguous ranges (the default). Where
// timestamps grow with the index, all splits then move through event time
// together, so the watermark (the least of the splits') stays close to the
// newest records. Unbounded sources always interleave.
func Interleaved() Option { return func(o *options) { o.interleave = true } }

// PollSize sets the most records a reader emits per poll (default 256):
// more saves per-poll work where records are cheap, fewer lets barriers
// and the other splits of the reader in sooner.
func PollSize(n int) Option { return func(o *options) { o.pollSize = max(n, 1) } }

// SplitName names the splits "name-k/p" instead of "k/p" (the default;
// split k of p), as the source's records and watermarks are shown per
// split.
func SplitName(name string) Option { return func(o *options) { o.name = name } }

// Slice returns a source of the items, in order within each split.
func Slice[T any](items []T, opts ...Option) *Source[T] {
	items = slices.Clone(items)
	return Generate(int64(len(items)), func(i int64) T { return items[i] }, opts...)
}

// Generate returns a source of fn(0), fn(1), ..., fn(n-1); n < 0 means
// unbounded. fn is called from the goroutines of all source subtasks, so
// it must be safe for concurrent use (GeneratePerReader is for generators
// that are not).
func Generate[T any](n int64, fn func(i int64) T, opts ...Option) *Source[T] {
	return GeneratePerReader(n, func() (func(i int64) T, error) { return fn, nil }, opts...)
}

// GeneratePerReader is Generate for a generator with state of its own
// (buffers, caches): newFn is called once per reader (source subtask and
// attempt), and the function it returns is called from that reader's
// goroutine only. Its values must still depend on i alone, so that a
// restored split emits what it would have emitted without a failure. An
// error from newFn fails the reader's creation.
func GeneratePerReader[T any](n int64, newFn func() (func(i int64) T, error), opts ...Option) *Source[T] {
	o := options{pollSize: defaultPollSize}
	for _, opt := range opts {
		opt(&o)
	}
	return &Source[T]{n: n, newFn: newFn, rate: o.rate, ts: o.ts, interleave: o.interleave, pollSize: o.pollSize, name: o.name}
}

// GenerateOrReject is GeneratePerReader for a generator that may fail:
// the function newFn returns gives the value of index i, or a bad record,
// which is reported (connector.ReaderOutput.Reject: to the job's
// dead-letter output, or failing the job) instead of a value.
func GenerateOrReject[T any](n int64, newFn func() (func(i int64) (T, *connector.BadRecord), error), opts ...Option) *Source[T] {
	s := GeneratePerReader[T](n, nil, opts...)
	s.newBadFn = newFn
	return s
}

// with returns a copy of s with opt applied.
func (s *Source[T]) with(opt Option) *Source[T] {
	o := options{rate: s.rate, ts: s.ts, interleave: s.interleave, pollSize: s.pollSize, name: s.name}
	opt(&o)
	c := *s
	c.rate, c.ts, c.interleave, c.pollSize, c.name = o.rate, o.ts, o.interleave, o.pollSize, o.name
	return &c
}

// WithRate returns a copy of s with Rate(perSecond).
//
// Deprecated: pass Rate to Slice, Generate or GeneratePerReader.
func (s *Source[T]) WithRate(perSecond float64) *Source[T] { return s.with(Rate(perSecond)) }

// WithTimestamps returns a copy of s with Timestamps(ts).
//
// Deprecated: pass Timestamps to Slice, Generate or GeneratePerReader.
func (s *Source[T]) WithTimestamps(ts func(i int64) int64) *Source[T] { return s.with(Timestamps(ts)) }

// Interleaved returns a copy of s with the option Interleaved.
//
// Deprecated: pass Interleaved to Slice, Generate or GeneratePerReader.
func (s *Source[T]) Interleaved() *Source[T] { return s.with(Interleaved()) }

// WithPollSize returns a copy of s with PollSize(n).
//
// Deprecated: pass PollSize to Slice, Generate or GeneratePerReader.
func (s *Source[T]) WithPollSize(n int) *Source[T] { return s.with(PollSize(n)) }

// WithSplitName returns a copy of s with SplitName(name).
//
// Deprecated: pass SplitName to Slice, Generate or GeneratePerReader.
func (s *Source[T]) WithSplitName(name string) *Source[T] { return s.with(SplitName(name)) }

// Bounded reports whether n >= 0.
func (s *Source[T]) Bounded() bool { return s.n >= 0 }

// Declare: the position of every split is checkpoint state.
func (s *Source[T]) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: "no checkpoints: a failed job starts over from nothing"}
	}
	return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: "the index of the next record of every split is checkpoint state"}
}

// Split is a share of the indexes: Next, Next+Stride, ... below End
// (End < 0: unbounded). Split k of m of an unbounded or interleaved source
// emits k, k+m, k+2m, ...; that of a bounded source otherwise a contiguous
// range with Stride 1.
type Split struct {
	Index, Of int   // split Index of Of
	Next      int64 // next index to emit
	End       int64 // exclusive; -1 unbounded
	Stride    int64
	name      string // the source's split name; not encoded
}

// SplitID names the split "k/p", or "name-k/p" for a source WithSplitName.
func (s *Split) SplitID() string {
	id := strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Of)
	if s.name != "" {
		return s.name + "-" + id
	}
	return id
}

func (s *Split) done() bool { return s.End >= 0 && s.Next >= s.End }

// split returns split i of a fresh start at parallelism p.
func (s *Source[T]) split(i, p int) *Split {
	sp := &Split{Index: i, Of: p, Next: int64(i), End: -1, Stride: int64(p), name: s.name}
	switch {
	case s.n < 0:
	case s.interleave:
		sp.End = s.n
	default:
		sp.Next, sp.End, sp.Stride = s.n*int64(i)/int64(p), s.n*int64(i+1)/int64(p), 1
	}
	return sp
}

// SplitCodec encodes splits as varints.
func (s *Source[T]) SplitCodec() connector.SplitCodec { return SplitCodec{name: s.name} }

// SplitCodec encodes Splits: a version, then Index, Of, Next, End and
// Stride as varints. The zero value decodes splits without a name; a
// Source's own codec gives them the source's.
type SplitCodec struct{ name string }

const splitVersion = 1

// Encode encodes a *Split.
func (SplitCodec) Encode(sp connector.Split) ([]byte, error) {
	s, ok := sp.(*Split)
	if !ok {
		return nil, fmt.Errorf("collection: not a collection split: %T", sp)
	}
	b := binary.AppendUvarint(nil, splitVersion)
	for _, v := range [...]int64{int64(s.Index), int64(s.Of), s.Next, s.End, s.Stride} {
		b = binary.AppendVarint(b, v)
	}
	return b, nil
}

// Decode decodes a *Split and checks that it is one a source could have
// made.
func (c SplitCodec) Decode(b []byte) (connector.Split, error) {
	d := wire.NewDecoder(b)
	if v := d.Uvarint("version"); d.Err() != nil || v != splitVersion {
		return nil, errors.New("collection: unknown split encoding")
	}
	var f [5]int64
	for i := range f {
		f[i] = d.Varint("split")
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("collection: decode split: %w", err)
	}
	s := &Split{Index: int(f[0]), Of: int(f[1]), Next: f[2], End: f[3], Stride: f[4], name: c.name}
	// A finished split's Next is below End + Stride (the first index past
	// End of its arithmetic progression).
	if s.Of < 1 || s.Index < 0 || s.Index >= s.Of || s.Stride < 1 || s.Next < 0 || s.End < -1 ||
		(s.End >= 0 && s.Next-s.End >= s.Stride) {
		return nil, fmt.Errorf("collection: invalid split %d/%d next %d end %d stride %d", s.Index, s.Of, s.Next, s.End, s.Stride)
	}
	return s, nil
}

// NewEnumerator: one split per reader on a fresh start; after a restore the
// splits live in the readers' state and nothing is left to assign.
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error) {
	e := &enumerator{ctx: ctx}
	if restored != nil {
		if len(restored) > 0 {
			return nil, errors.New("collection: unexpected enumerator state")
		}
		return e, nil
	}
	p := ctx.Parallelism()
	for i := range p {
		e.unassigned = append(e.unassigned, s.split(i, p))
	}
	return e, nil
}

type enumerator struct {
	ctx        connector.EnumeratorContext
	unassigned []*Split
}

func (e *enumerator) AddReader(subtask int) error {
	for i, sp := range e.unassigned {
		if sp.Index == subtask%sp.Of {
			e.ctx.Assign(subtask, sp)
			e.unassigned = slices.Delete(e.unassigned, i, i+1)
			break
		}
	}
	e.ctx.NoMoreSplits(subtask)
	return nil
}

func (e *enumerator) HandleSplitRequest(int) error { return nil }

// Snapshot: all splits are assigned at the start, so the state is empty
// (but not nil, which marks a fresh start).
func (e *enumerator) Snapshot(int64) ([]byte, error) { return []byte{}, nil }

func (e *enumerator) Close() error { return nil }

// NewReader creates the reader of one subtask, a *Reader[T], with a
// generator of its own (GeneratePerReader).
func (s *Source[T]) NewReader(connector.ReaderContext) (connector.Reader[T], error) {
	r := &Reader[T]{src: s, avail: make(chan struct{}, 1)}
	var err error
	if s.newBadFn != nil {
		r.badFn, err = s.newBadFn()
	} else {
		r.fn, err = s.newFn()
	}
	if err != nil {
		return nil, err
	}
	c := s.clock
	if c == nil {
		c = systemClock{}
	}
	r.pace = pacer{rate: s.rate, clock: c}
	return r, nil
}

// Reader reads the splits of a Source assigned to one source subtask;
// Source.NewReader returns one. It emits up to the poll size of records of
// one split per poll, the splits taking turns so that all their
// watermarks advance.
type Reader[T any] struct {
	src    *Source[T]
	fn     func(i int64) T
	badFn  func(i int64) (T, *connector.BadRecord) // GenerateOrReject: instead of fn
	splits []*readerSplit
	turn   int // index of the split whose turn it is
	noMore bool
	avail  chan struct{}
	pace   pacer
}

// pacer is the schedule of a rate-limited reader: record k (counted from
// the start of the schedule) is due at start + k/rate.
type pacer struct {
	rate    float64
	clock   clock
	started bool
	start   time.Time
	sent    int64 // records emitted since start
}

// due returns the time record k of the schedule is due.
func (p *pacer) due(k int64) time.Time {
	return p.start.Add(time.Duration(float64(k) * float64(time.Second) / p.rate))
}

// maxCatchUp is how many records a late reader makes up at most: one
// second's worth.
func (p *pacer) maxCatchUp() int64 { return max(1, int64(p.rate)) }

// allow returns how many records may be emitted now, at most limit, or 0
// and the time the next one is due.
func (p *pacer) allow(limit int64) (int64, time.Time) {
	now := p.clock.Now()
	if !p.started {
		p.started, p.start, p.sent = true, now, 0
	}
	// last is the newest record due by now: due(last) <= now < due(last+1).
	last := int64(float64(now.Sub(p.start)) * p.rate / float64(time.Second))
	for last >= 0 && p.due(last).After(now) {
		last--
	}
	for !p.due(last + 1).After(now) {
		last++
	}
	n := last + 1 - p.sent
	if n <= 0 {
		return 0, p.due(p.sent)
	}
	if c := p.maxCatchUp(); n > c {
		// Too far behind: start the schedule again so that c are due now.
		p.start, p.sent, n = now.Add(-time.Duration(float64(c-1)*float64(time.Second)/p.rate)), 0, c
	}
	return min(n, limit), time.Time{}
}

// readerSplit is a split being read, with its ID made once.
type readerSplit struct {
	Split
	id string
}

// Start implements connector.Reader.
func (r *Reader[T]) Start() error { return nil }

// PollNext implements connector.Reader.
func (r *Reader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	if len(r.splits) == 0 {
		if r.noMore {
			return connector.EndOfInput, nil
		}
		return connector.NothingAvailable, nil
	}
	n := int64(r.src.pollSize)
	if r.src.rate > 0 {
		var next time.Time
		if n, next = r.pace.allow(n); n == 0 {
			r.wakeAt(next)
			return connector.NothingAvailable, nil
		}
	}
	if r.turn >= len(r.splits) {
		r.turn = 0
	}
	sp := r.splits[r.turn]
	so := out.Split(sp.id)
	i, stride := sp.Next, sp.Stride
	end := i + n*stride
	if sp.End >= 0 {
		end = min(end, sp.End)
	}
	if r.badFn != nil {
		var err error
		if i, err = r.emitOrReject(out, so, i, end, stride); err != nil {
			return 0, err
		}
	} else if fn, ts := r.fn, r.src.ts; ts != nil {
		for ; i < end; i += stride {
			so.CollectAt(fn(i), ts(i))
		}
	} else {
		for ; i < end; i += stride {
			so.Collect(fn(i))
		}
	}
	r.pace.sent += (i - sp.Next) / stride
	sp.Next = i
	if sp.done() {
		out.ReleaseSplit(sp.id)
		r.splits = slices.Delete(r.splits, r.turn, r.turn+1)
	} else {
		r.turn++
	}
	if len(r.splits) == 0 && r.noMore {
		return connector.EndOfInput, nil
	}
	if r.src.rate > 0 {
		if n, next := r.pace.allow(1); n == 0 {
			r.wakeAt(next)
			return connector.NothingAvailable, nil
		}
	}
	return connector.MoreAvailable, nil
}

// emitOrReject emits the values of the indexes i, i+stride, ... below
// end, or rejects their bad records, and returns the next index; or the
// error of a bad record without a dead-letter output.
func (r *Reader[T]) emitOrReject(out connector.ReaderOutput[T], so connector.SplitOutput[T], i, end, stride int64) (int64, error) {
	ts := r.src.ts
	for ; i < end; i += stride {
		v, bad := r.badFn(i)
		switch {
		case bad != nil:
			if err := out.Reject(*bad); err != nil {
				return i, err
			}
		case ts != nil:
			so.CollectAt(v, ts(i))
		default:
			so.Collect(v)
		}
	}
	return i, nil
}

func (r *Reader[T]) wakeAt(t time.Time) {
	r.pace.clock.AfterFunc(t.Sub(r.pace.clock.Now()), r.wake)
}

func (r *Reader[T]) wake() {
	select {
	case r.avail <- struct{}{}:
	default:
	}
}

// Available implements connector.Reader.
func (r *Reader[T]) Available() <-chan struct{} { return r.avail }

// AddSplits implements connector.Reader: it takes copies of the splits,
// named as the source names them, and drops finished ones.
func (r *Reader[T]) AddSplits(splits []connector.Split) error {
	for _, sp := range splits {
		s, ok := sp.(*Split)
		if !ok {
			return fmt.Errorf("collection: not a collection split: %T", sp)
		}
		if s.done() {
			continue
		}
		c := readerSplit{Split: *s}
		c.name = r.src.name
		c.id = c.SplitID()
		r.splits = append(r.splits, &c)
	}
	r.wake()
	return nil
}

// NoMoreSplits implements connector.Reader.
func (r *Reader[T]) NoMoreSplits() {
	r.noMore = true
	r.wake()
}

// SnapshotState implements connector.Reader: copies of the unfinished
// splits.
func (r *Reader[T]) SnapshotState(int64) ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(r.splits))
	for _, s := range r.splits {
		c := s.Split
		out = append(out, &c)
	}
	return out, nil
}

// Close implements connector.Reader.
func (r *Reader[T]) Close() error { return nil }
