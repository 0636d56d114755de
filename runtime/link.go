package runtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/state"
)

// Partitioning says how records of a network edge are spread over the
// receiving subtasks.
type Partitioning uint8

const (
	// Forward sends subtask i's records to subtask i (equal parallelism).
	Forward Partitioning = iota + 1
	// Rebalance spreads records round-robin.
	Rebalance
	// Hash sends a record to the subtask that owns its key group.
	Hash
	// Broadcast sends every record to every subtask.
	Broadcast
)

func (p Partitioning) String() string {
	switch p {
	case Forward:
		return "forward"
	case Rebalance:
		return "rebalance"
	case Hash:
		return "hash"
	case Broadcast:
		return "broadcast"
	}
	return fmt.Sprintf("partitioning(%d)", uint8(p))
}

// TypeHandle carries an element type through the untyped parts of the
// runtime. Create one with [TypeOf].
type TypeHandle interface {
	// TypeName is the Go type, for plans and errors.
	TypeName() string
	fanOut(outs []any) any
	discard() any
}

// TypeOf returns the handle of element type T.
func TypeOf[T any]() TypeHandle { return typeHandle[T]{} }

type typeHandle[T any] struct{}

func (typeHandle[T]) TypeName() string { return fmt.Sprintf("%T", *new(T)) }

func (typeHandle[T]) fanOut(outs []any) any {
	if len(outs) == 1 {
		return outs[0].(Output[T])
	}
	f := &fanOut[T]{outs: make([]Output[T], len(outs))}
	for i, o := range outs {
		f.outs[i] = o.(Output[T])
	}
	return Output[T](f)
}

func (typeHandle[T]) discard() any { return Output[T](&countingDiscard[T]{}) }

// EdgeSpec is a typed connection between two operators, either chained
// (direct calls) or over the network (batches over channels). Create one
// with [NewEdge].
type EdgeSpec interface {
	Partitioning() Partitioning
	// Type is the element type on the edge.
	Type() TypeHandle
	// WithPartitioning returns the same edge with another partitioning
	// (Hash needs a spec created with a key hash).
	WithPartitioning(p Partitioning) EdgeSpec
	// chainTo returns the Output[T] through which operator from of t calls
	// operator to (target) directly.
	chainTo(t *task, from, to int, target Operator) (any, error)
	// newLink returns the channels of the edge from senders subtasks to
	// receivers, one per doorbell: bells[r] wakes receiver r.
	newLink(senders int, bells []chan struct{}, maxParallelism int, cfg *Config) link
}

// NewEdge returns the spec of an edge carrying T. keyHash is required for
// Hash partitioning (the key's hash as computed by state.Hasher) and
// ignored otherwise.
func NewEdge[T any](p Partitioning, keyHash func(T) uint64) EdgeSpec {
	return &edgeSpec[T]{part: p, keyHash: keyHash}
}

type edgeSpec[T any] struct {
	part    Partitioning
	keyHash func(T) uint64
}

func (e *edgeSpec[T]) Partitioning() Partitioning { return e.part }
func (e *edgeSpec[T]) Type() TypeHandle           { return typeHandle[T]{} }

func (e *edgeSpec[T]) WithPartitioning(p Partitioning) EdgeSpec {
	c := *e
	c.part = p
	return &c
}

func (e *edgeSpec[T]) chainTo(t *task, from, to int, target Operator) (any, error) {
	in, err := inputOf[T](target, 0)
	if err != nil {
		return nil, err
	}
	wm, ok := target.(WatermarkProcessor)
	if !ok {
		return nil, fmt.Errorf("operator %T does not implement WatermarkProcessor", target)
	}
	return Output[T](&chainOutput[T]{next: in, wm: wm, task: t, idx: to, from: from}), nil
}

func inputOf[T any](op Operator, i int) (Input[T], error) {
	var v any = op
	if m, ok := op.(MultiInput); ok {
		v = m.InputAt(i)
	} else if i != 0 {
		return nil, fmt.Errorf("operator %T has one input, asked for input %d", op, i)
	}
	in, ok := v.(Input[T])
	if !ok {
		return nil, fmt.Errorf("input %d of operator %T does not take %T", i, op, *new(T))
	}
	return in, nil
}

// link is the set of channels of one network edge between all senders and
// all receivers.
type link interface {
	writer(sender int, t *task) (any, netWriter)
	gate(receiver int, target Operator, input int) (inputGate, error)
	channels(receiver int) int
	// checkInflight reports why the edge's records cannot be stored as
	// in-flight records of unaligned checkpoints.
	checkInflight() error
}

func (e *edgeSpec[T]) newLink(senders int, bells []chan struct{}, maxParallelism int, cfg *Config) link {
	receivers := len(bells)
	l := &netLink[T]{spec: e, senders: senders, receivers: receivers, batchSize: cfg.BatchSize, doorbells: bells}
	perReceiver := senders
	if e.part == Forward {
		perReceiver = 1
	}
	l.chans = make([][]chan *Batch[T], receivers)
	for r := range l.chans {
		l.chans[r] = make([]chan *Batch[T], perReceiver)
		for s := range l.chans[r] {
			l.chans[r][s] = make(chan *Batch[T], cfg.ChannelCapacity)
		}
	}
	if e.part == Hash {
		l.targetOfKG = make([]int32, maxParallelism)
		for kg := range l.targetOfKG {
			l.targetOfKG[kg] = int32(state.SubtaskForKeyGroup(maxParallelism, receivers, kg))
		}
		l.maxPar = uint64(maxParallelism)
	}
	l.pool.New = func() any { return &Batch[T]{Records: make([]Record[T], 0, l.batchSize)} }
	return l
}

type netLink[T any] struct {
	spec       *edgeSpec[T]
	senders    int
	receivers  int
	batchSize  int
	chans      [][]chan *Batch[T] // [receiver][channel]
	doorbells  []chan struct{}    // [receiver]
	targetOfKG []int32
	maxPar     uint64
	pool       sync.Pool
}

func (l *netLink[T]) channels(receiver int) int { return len(l.chans[receiver]) }

func (l *netLink[T]) getBatch() *Batch[T] { return l.pool.Get().(*Batch[T]) }

func (l *netLink[T]) recycle(b *Batch[T]) {
	clear(b.Records)
	b.Records = b.Records[:0]
	b.Event = Event{}
	l.pool.Put(b)
}

// netWriter is the untyped side of a writer: flushing and control events.
type netWriter interface {
	flush() error
	emitEvent(ev Event) error
	hasPending() bool
}

func (l *netLink[T]) writer(sender int, t *task) (any, netWriter) {
	w := &writerBase[T]{link: l, done: t.ctx.Done(), ctx: t.ctx, clock: &t.clock}
	switch l.spec.part {
	case Forward:
		w.out = []chan *Batch[T]{l.chans[sender][0]}
		w.bells = []chan struct{}{l.doorbells[sender]}
		w.from = 0
	default:
		w.out = make([]chan *Batch[T], l.receivers)
		w.bells = make([]chan struct{}, l.receivers)
		for r := 0; r < l.receivers; r++ {
			w.out[r] = l.chans[r][sender]
			w.bells[r] = l.doorbells[r]
		}
		w.from = sender
	}
	w.pending = make([]*Batch[T], len(w.out))
	for i := range w.pending {
		w.pending[i] = l.getBatch()
	}
	switch l.spec.part {
	case Forward:
		return Output[T](&forwardWriter[T]{w}), w
	case Rebalance:
		return Output[T](&rebalanceWriter[T]{writerBase: w, next: sender % len(w.out)}), w
	case Hash:
		return Output[T](&hashWriter[T]{writerBase: w, hash: l.spec.keyHash, targets: l.targetOfKG, maxPar: l.maxPar}), w
	case Broadcast:
		return Output[T](&broadcastWriter[T]{w}), w
	}
	panic(fmt.Sprintf("runtime: unknown partitioning %v", l.spec.part))
}

// writerBase batches records per receiver.
type writerBase[T any] struct {
	link    *netLink[T]
	out     []chan *Batch[T]
	bells   []chan struct{}
	pending []*Batch[T]
	from    int
	done    <-chan struct{}
	ctx     context.Context
	sent    int64      // records sent, for metrics: see count
	clock   *taskClock // the task's time accounting (observe.go)
}

// count is the number of records collected: those sent plus those
// pending, counted per batch to keep the per-record path free of it.
func (w *writerBase[T]) count() int64 {
	n := w.sent
	for _, b := range w.pending {
		n += int64(len(b.Records))
	}
	return n
}

func (w *writerBase[T]) add(target int, r Record[T]) error {
	b := w.pending[target]
	b.Records = append(b.Records, r)
	if len(b.Records) >= w.link.batchSize {
		return w.send(target)
	}
	return nil
}

func (w *writerBase[T]) send(target int) error {
	b := w.pending[target]
	b.From = w.from
	n := len(b.Records) // b is the receiver's once sent
	select {
	case w.out[target] <- b:
	default:
		// The channel is full: the time waiting for room is backpressure.
		start := time.Now()
		select {
		case w.out[target] <- b:
		case <-w.done:
			return context.Cause(w.ctx)
		}
		w.clock.blocked(time.Since(start))
	}
	ring(w.bells[target])
	w.sent += int64(n)
	w.pending[target] = w.link.getBatch()
	return nil
}

func (w *writerBase[T]) flush() error {
	for i, b := range w.pending {
		if len(b.Records) > 0 {
			if err := w.send(i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *writerBase[T]) hasPending() bool {
	for _, b := range w.pending {
		if len(b.Records) > 0 {
			return true
		}
	}
	return false
}

// emitEvent sends ev to every receiver, after the records pending for it.
func (w *writerBase[T]) emitEvent(ev Event) error {
	for i, b := range w.pending {
		b.Event = ev
		if err := w.send(i); err != nil {
			return err
		}
	}
	return nil
}

func (w *writerBase[T]) EmitWatermark(wm int64) error {
	w.clock.watermark(wm)
	return w.emitEvent(Event{Kind: EventWatermark, Watermark: wm})
}

func (w *writerBase[T]) EmitStatus(idle bool) error {
	if idle {
		return w.emitEvent(Event{Kind: EventIdle})
	}
	return w.emitEvent(Event{Kind: EventActive})
}

type forwardWriter[T any] struct{ *writerBase[T] }

func (w *forwardWriter[T]) Collect(r Record[T]) error { return w.add(0, r) }

type rebalanceWriter[T any] struct {
	*writerBase[T]
	next int
}

func (w *rebalanceWriter[T]) Collect(r Record[T]) error {
	t := w.next
	w.next++
	if w.next == len(w.out) {
		w.next = 0
	}
	return w.add(t, r)
}

type hashWriter[T any] struct {
	*writerBase[T]
	hash    func(T) uint64
	targets []int32
	maxPar  uint64
}

func (w *hashWriter[T]) Collect(r Record[T]) error {
	return w.add(int(w.targets[w.hash(r.Value)%w.maxPar]), r)
}

type broadcastWriter[T any] struct{ *writerBase[T] }

// count is the number of records collected: each went to every receiver.
func (w *broadcastWriter[T]) count() int64 { return w.writerBase.count() / int64(len(w.out)) }

func (w *broadcastWriter[T]) Collect(r Record[T]) error {
	for i := range w.out {
		if err := w.add(i, r); err != nil {
			return err
		}
	}
	return nil
}

// inputGate is the receiving side of one network edge at one subtask.
type inputGate interface {
	// numChannels is how many sender channels the gate reads.
	numChannels() int
	// setup tells the gate its edge.
	setup(edge *NetEdge)
	// poll receives at most one batch from channel ch without blocking and
	// hands its records to the head operator, after capturing them when
	// capture is set (in-flight records of an unaligned checkpoint). It
	// reports whether there was a batch, the number of its records and the
	// control event that ended it (EventNone: none), which the caller
	// handles. An error comes from the head operator's chain.
	poll(ch int, capture bool) (ok bool, records int, ev Event, err error)
	// takeCapture returns the records captured since the last reset (the
	// in-flight records of an unaligned checkpoint) and resets.
	takeCapture() (inflightSection, error)
	// resetCapture drops what was captured.
	resetCapture()
	// replay hands restored in-flight records to the head operator before
	// any new input, and returns how many.
	replay(parts []inflightPart, load func(inflightPart) (rawSection, error)) (int64, error)
}

func (l *netLink[T]) gate(receiver int, target Operator, input int) (inputGate, error) {
	in, err := inputOf[T](target, input)
	if err != nil {
		return nil, err
	}
	return &gate[T]{link: l, receiver: receiver, chans: l.chans[receiver], target: in}, nil
}

type gate[T any] struct {
	link     *netLink[T]
	receiver int
	chans    []chan *Batch[T]
	target   Input[T]
	// set by the task
	edge  *NetEdge
	input int // input index at the head operator
	// in-flight records of unaligned checkpoints (inflight.go)
	codec state.Codec[T]
	cap   gateCapture
}

func (g *gate[T]) numChannels() int { return len(g.chans) }

func (g *gate[T]) setup(edge *NetEdge) { g.edge, g.input = edge, edge.Input }

func (g *gate[T]) poll(ch int, capture bool) (bool, int, Event, error) {
	var b *Batch[T]
	select {
	case b = <-g.chans[ch]:
	default:
		return false, 0, Event{}, nil
	}
	if capture {
		g.captureBatch(b.Records)
	}
	n := len(b.Records)
	for i := range b.Records {
		if err := g.target.ProcessRecord(b.Records[i]); err != nil {
			return true, n, Event{}, err
		}
	}
	ev := b.Event
	g.link.recycle(b)
	return true, n, ev, nil
}
