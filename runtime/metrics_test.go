package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/state"
)

// rangeSource emits the ints [0, n); subtask s of p reads [s*n/p, (s+1)*n/p).
type rangeSource struct{ n int }

type rangeSplit struct{ from, to int }

func (s rangeSplit) SplitID() string { return fmt.Sprintf("%d-%d", s.from, s.to) }

func (rangeSource) Bounded() bool { return true }
func (s rangeSource) NewEnumerator(ctx connector.EnumeratorContext, _ []byte) (connector.Enumerator, error) {
	return &rangeEnum{ctx: ctx, n: s.n}, nil
}
func (rangeSource) NewReader(connector.ReaderContext) (connector.Reader[int], error) {
	return &rangeReader{}, nil
}
func (rangeSource) SplitCodec() connector.SplitCodec { return nil } // no checkpoints

type rangeEnum struct {
	ctx connector.EnumeratorContext
	n   int
}

func (e *rangeEnum) AddReader(s int) error {
	p := e.ctx.Parallelism()
	e.ctx.Assign(s, rangeSplit{s * e.n / p, (s + 1) * e.n / p})
	e.ctx.NoMoreSplits(s)
	return nil
}
func (e *rangeEnum) HandleSplitRequest(int) error   { return nil }
func (e *rangeEnum) Snapshot(int64) ([]byte, error) { return nil, nil }
func (e *rangeEnum) Close() error                   { return nil }

type rangeReader struct {
	splits []rangeSplit
	done   bool
}

func (r *rangeReader) Start() error                                   { return nil }
func (r *rangeReader) Available() <-chan struct{}                     { return nil }
func (r *rangeReader) NoMoreSplits()                                  { r.done = true }
func (r *rangeReader) Close() error                                   { return nil }
func (r *rangeReader) SnapshotState(int64) ([]connector.Split, error) { return nil, nil }
func (r *rangeReader) AddSplits(s []connector.Split) error {
	for _, sp := range s {
		r.splits = append(r.splits, sp.(rangeSplit))
	}
	return nil
}

func (r *rangeReader) PollNext(out connector.ReaderOutput[int]) (connector.InputStatus, error) {
	if len(r.splits) == 0 {
		if r.done {
			return connector.EndOfInput, nil
		}
		return connector.NothingAvailable, nil
	}
	sp := &r.splits[0]
	for i := 0; i < 100 && sp.from < sp.to; i++ {
		out.Collect(sp.from)
		sp.from++
	}
	if sp.from == sp.to {
		r.splits = r.splits[1:]
	}
	return connector.MoreAvailable, nil
}

// fnOp is a stateless operator: fn emits zero or more records per input.
type fnOp[T, U any] struct {
	out Output[U]
	fn  func(v T, emit func(U) error) error
}

func (o *fnOp[T, U]) Open(*OperatorContext) error     { return nil }
func (o *fnOp[T, U]) Close() error                    { return nil }
func (o *fnOp[T, U]) ProcessWatermark(wm int64) error { return o.out.EmitWatermark(wm) }
func (o *fnOp[T, U]) ProcessStatus(idle bool) error   { return o.out.EmitStatus(idle) }
func (o *fnOp[T, U]) ProcessRecord(r Record[T]) error {
	return o.fn(r.Value, func(u U) error { return o.out.Collect(Record[U]{Value: u, Time: r.Time}) })
}

func fnSpec[T, U any](name string, fn func(v T, emit func(U) error) error) *OpSpec {
	return &OpSpec{Name: name, UID: name, Out: TypeOf[U](), New: func(main any, _ map[string]any) (Operator, error) {
		return &fnOp[T, U]{out: main.(Output[U]), fn: fn}, nil
	}}
}

// countSink counts what it receives.
type countSink struct {
	mu sync.Mutex
	n  int
}

func (s *countSink) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[string], error) {
	return s, nil
}
func (s *countSink) Write(context.Context, string, int64) error {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return nil
}
func (s *countSink) Flush(context.Context) error { return nil }
func (s *countSink) Close() error                { return nil }

const metricsKeys = 7

func metricsKeyHash(v int) uint64 { return uint64(v % metricsKeys) }

// metricsPlan is: source -> double (may fail) -> thirds (keeps multiples
// of 3), chained; a hash exchange by v % 7; count (a running count per key)
// -> sink, chained. Every vertex has parallelism p.
func metricsPlan(n, p int, fail func(v int) error, snk *countSink) *Plan {
	const maxPar = 128
	src := &Vertex{ID: 0, Name: "source", Parallelism: p, MaxParallelism: maxPar, Source: SourceSpecOf[int](rangeSource{n})}
	src.Ops = []*OpSpec{
		{Name: "source", UID: "source", Out: TypeOf[int](), New: func(main any, side map[string]any) (Operator, error) {
			return NewSourceOperator[int](rangeSource{n}, eventtime.NoWatermarks[int](), SourceOptions{}, main.(Output[int]), side), nil
		}},
		fnSpec("double", func(v int, emit func(int) error) error {
			if err := fail(v); err != nil {
				return err
			}
			return emit(v * 2)
		}),
		fnSpec("thirds", func(v int, emit func(int) error) error {
			if v%3 != 0 {
				return nil
			}
			return emit(v)
		}),
	}
	src.Ops[0].Chained = []ChainedEdge{{To: 1, Spec: NewEdge[int](Forward, nil)}}
	src.Ops[1].Chained = []ChainedEdge{{To: 2, Spec: NewEdge[int](Forward, nil)}}

	keyed := &Vertex{ID: 1, Name: "count", Parallelism: p, MaxParallelism: maxPar}
	counts := &OpSpec{Name: "count", UID: "count", Out: TypeOf[string](), Keyed: true,
		New: func(main any, _ map[string]any) (Operator, error) {
			c := map[int]int{}
			return &fnOp[int, string]{out: main.(Output[string]), fn: func(v int, emit func(string) error) error {
				k := v % metricsKeys
				c[k]++
				return emit(fmt.Sprint(k, "=", c[k]))
			}}, nil
		}}
	sink := &OpSpec{Name: "sink", UID: "sink", New: func(any, map[string]any) (Operator, error) {
		return NewSinkOperator[string](snk), nil
	}}
	counts.Chained = []ChainedEdge{{To: 1, Spec: NewEdge[string](Forward, nil)}}
	keyed.Ops = []*OpSpec{counts, sink}
	e := &NetEdge{From: src, FromOp: 2, To: keyed, Spec: NewEdge[int](Hash, metricsKeyHash)}
	src.Ops[2].Net = []*NetEdge{e}
	keyed.Inputs = []*NetEdge{e}
	return &Plan{Name: "metrics", Vertices: []*Vertex{src, keyed}}
}

// wantMetrics computes the counts of one run of metricsPlan.
func wantMetrics(n, p int) []OperatorMetrics {
	var want []OperatorMetrics
	add := func(name string, per func(s int) (in, out int64)) {
		for s := range p {
			in, out := per(s)
			want = append(want, OperatorMetrics{Operator: name, UID: name, Subtask: s, RecordsIn: in, RecordsOut: out})
		}
	}
	kept := func(s int) (k int64) {
		for v := s * n / p; v < (s+1)*n/p; v++ {
			if v*2%3 == 0 {
				k++
			}
		}
		return k
	}
	keyedIn := make([]int64, p)
	for v := range n {
		if v*2%3 == 0 {
			kg := state.KeyGroupOf(metricsKeyHash(v*2), 128)
			keyedIn[state.SubtaskForKeyGroup(128, p, kg)]++
		}
	}
	size := func(s int) int64 { return int64((s+1)*n/p - s*n/p) }
	add("source", func(s int) (int64, int64) { return 0, size(s) })
	add("double", func(s int) (int64, int64) { return size(s), size(s) })
	add("thirds", func(s int) (int64, int64) { return size(s), kept(s) })
	add("count", func(s int) (int64, int64) { return keyedIn[s], keyedIn[s] })
	add("sink", func(s int) (int64, int64) { return keyedIn[s], 0 })
	return want
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMetricsExact(t *testing.T) {
	const n, p = 10007, 2
	snk := &countSink{}
	plan := metricsPlan(n, p, func(int) error { return nil }, snk)
	j, err := Start(t.Context(), plan, Config{BatchSize: 64, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(); err != nil {
		t.Fatal(err)
	}
	got, want := j.Metrics(), wantMetrics(n, p)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("metrics\n got %v\nwant %v", got, want)
	}
	if int64(snk.n) != got[len(got)-1].RecordsIn+got[len(got)-2].RecordsIn {
		t.Errorf("the sink wrote %d records, its metrics say %v", snk.n, got[len(got)-2:])
	}
	sum := SumBySubtask(got)
	wantSum := []OperatorMetrics{
		{"source", "source", -1, 0, n},
		{"double", "double", -1, n, n},
		{"thirds", "thirds", -1, n, (n + 2) / 3},
		{"count", "count", -1, (n + 2) / 3, (n + 2) / 3},
		{"sink", "sink", -1, (n + 2) / 3, 0},
	}
	if !reflect.DeepEqual(sum, wantSum) {
		t.Errorf("summed\n got %v\nwant %v", sum, wantSum)
	}
}

// TestMetricsRestart: a job without checkpoints restarts from scratch; the
// counts go on from where the failed attempt left them.
func TestMetricsRestart(t *testing.T) {
	const n, p = 10007, 2
	var once sync.Once
	fail := func(v int) error {
		var err error
		if v == n/3 {
			once.Do(func() { err = errors.New("injected failure") })
		}
		return err
	}
	events := make(chan JobEvent, 64)
	plan := metricsPlan(n, p, fail, &countSink{})
	j, err := Start(t.Context(), plan, Config{BatchSize: 64, Logger: quiet(), Events: events,
		Restart: restart.FixedDelay(1, 10*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	var atRestart []OperatorMetrics
	for atRestart == nil {
		select {
		case ev := <-events:
			if ev.Kind == "restarting" {
				// The failed attempt has ended: its counts are published.
				atRestart = j.Metrics()
			}
		case <-j.Done():
			t.Fatalf("the job ended without a restart: %v", j.Wait())
		}
	}
	if err := j.Wait(); err != nil {
		t.Fatal(err)
	}
	got := j.Metrics()
	want := wantMetrics(n, p)
	for i := range got {
		g, a, w := got[i], atRestart[i], want[i]
		// The second attempt does the whole work again, on top of what
		// the first one counted.
		if g.RecordsIn != a.RecordsIn+w.RecordsIn || g.RecordsOut != a.RecordsOut+w.RecordsOut {
			t.Errorf("%s/%d: %d in %d out; at the restart %d in %d out, plus one run %d in %d out",
				g.Operator, g.Subtask, g.RecordsIn, g.RecordsOut, a.RecordsIn, a.RecordsOut, w.RecordsIn, w.RecordsOut)
		}
	}
	if src := SumBySubtask(atRestart)[0]; src.RecordsOut == 0 {
		t.Errorf("the first attempt emitted nothing before it failed: %v", atRestart)
	}
}

func TestSumBySubtask(t *testing.T) {
	in := []OperatorMetrics{
		{"a", "ua", 0, 0, 5}, {"a", "ua", 1, 0, 7},
		{"b", "ub", 0, 5, 2},
		{"a2", "ua2", 0, 1, 1},
		{"b", "ub", 1, 7, 3},
	}
	want := []OperatorMetrics{{"a", "ua", -1, 0, 12}, {"b", "ub", -1, 12, 5}, {"a2", "ua2", -1, 1, 1}}
	if got := SumBySubtask(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := SumBySubtask(nil); len(got) != 0 {
		t.Fatalf("nil: got %v", got)
	}
}
