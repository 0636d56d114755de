package bench

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// quiet keeps the jobs' logs out of the benchmark output.
var quiet = slog.New(slog.DiscardHandler)

func newEnv(name string, p int) *stream.Env {
	return stream.New(name, stream.WithParallelism(p), stream.WithLogger(quiet))
}

// chainJob is the stateless chain: Generate -> Map -> Filter -> Map -> sink,
// every operator at parallelism p, fused into p tasks.
func chainJob(n int64, p int, sink *Discard[Sale]) *stream.Env {
	env := newEnv("bench-chain", p)
	bids := stream.Generate(env, n, GenBid)
	bids = stream.Map(bids, ToEuro)
	bids = stream.Filter(bids, Selected)
	stream.Map(bids, ToSale).SinkTo("discard", sink)
	return env
}

// reduceCountJob is the keyed running count with Reduce: Generate ->
// KeyBy -> Reduce -> sink. The KeyBy edge is a hash exchange, so even at
// parallelism 1 the source and the keyed operator are two tasks.
func reduceCountJob(n, keys int64, p int, sink *Discard[KeyCount]) *stream.Env {
	env := newEnv("bench-keyed-count", p)
	recs := stream.Generate(env, n, GenKeyCount(keys))
	stream.Reduce(stream.KeyBy(recs, KeyOf), SumCounts).SinkTo("discard", sink)
	return env
}

// processCountJob is the keyed running count as a KeyedProcessFunction
// with a ValueState[int64].
func processCountJob(n, keys int64, p int, sink *Discard[KeyCount]) *stream.Env {
	env := newEnv("bench-keyed-process-count", p)
	recs := stream.Generate(env, n, GenKeyCount(keys))
	newFn := func() stream.KeyedProcessFunction[int64, KeyCount, KeyCount] {
		var count state.ValueState[int64]
		return stream.KeyedProcessFuncs[int64, KeyCount, KeyCount]{
			OpenFn: func(rt *stream.KeyedRuntime[int64]) (err error) {
				count, err = stream.ValueState[int64](rt, "count")
				return err
			},
			ProcessFn: func(ctx *stream.KeyedContext[int64], v KeyCount, out stream.Collector[KeyCount]) error {
				c, _ := count.Value()
				c += v.Count
				count.Update(c)
				out.Collect(KeyCount{Key: ctx.Key(), Count: c})
				return nil
			},
		}
	}
	stream.ProcessKeyed(stream.KeyBy(recs, KeyOf), newFn).SinkTo("discard", sink)
	return env
}

func run(tb testing.TB, env *stream.Env) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		tb.Fatalf("job failed: %v", err)
	}
}

// measure starts measuring a benchmark run of n records; stop it with
// done. It reports records/s and ns/record of elapsed time (b.N records
// per run here, so ns/record equals ns/op; it has its own name for the
// tables), and cpu-ns/record: the CPU time of the whole process (every
// task, the job driver, the garbage collector) per record, which on a
// shared machine moves less than elapsed time and shows what parallelism
// costs in total.
func measure(b *testing.B, n int64) *meter {
	b.ReportAllocs()
	m := &meter{b: b, n: n}
	m.cpu0, m.cpuOK = cpuTime()
	return m
}

type meter struct {
	b     *testing.B
	n     int64
	cpu0  time.Duration
	cpuOK bool
}

func (m *meter) done() {
	cpu1, ok := cpuTime()
	m.b.StopTimer()
	sec := m.b.Elapsed().Seconds()
	m.b.ReportMetric(float64(m.n)/sec, "records/s")
	m.b.ReportMetric(sec*1e9/float64(m.n), "ns/record")
	if m.cpuOK && ok {
		m.b.ReportMetric(float64(cpu1-m.cpu0)/float64(m.n), "cpu-ns/record")
	}
}

// kept holds the checksums of the inlined loops, so that the compiler
// cannot drop the reads that produce them.
var kept uint64

func keep(sum uint64) { kept += sum }

func checkCount(b *testing.B, got, want int64) {
	if got != want {
		b.Fatalf("sink counted %d records, want %d", got, want)
	}
}

// BenchmarkChain is the stateless chain Generate -> Map -> Filter -> Map ->
// sink (three records in four pass the filter), against the same work in
// hand-written loops. records/s counts generated records.
func BenchmarkChain(b *testing.B) {
	for _, p := range []int{1, 2} {
		b.Run(fmt.Sprintf("sluice/p%d", p), func(b *testing.B) {
			n := int64(b.N)
			sink := NewDiscard(ReadSale)
			m := measure(b, n)
			run(b, chainJob(n, p, sink))
			m.done()
			checkCount(b, sink.Count(), SelectedOf(n))
		})
	}
	for _, p := range []int{1, 2} {
		b.Run(fmt.Sprintf("hand-funcs/p%d", p), func(b *testing.B) {
			n := int64(b.N)
			sink := NewDiscard(ReadSale)
			m := measure(b, n)
			if err := chainFuncsParallel(n, p, sink); err != nil {
				b.Fatal(err)
			}
			m.done()
			checkCount(b, sink.Count(), SelectedOf(n))
		})
	}
	b.Run("hand-inline/p1", func(b *testing.B) {
		n := int64(b.N)
		m := measure(b, n)
		got, sum := chainInline(0, n)
		m.done()
		keep(sum)
		checkCount(b, got, SelectedOf(n))
	})
}

// BenchmarkKeyedCount is a running count per key over keys distinct keys
// (record i has key i % keys): Generate -> KeyBy -> Reduce -> sink, one
// update emitted per record, against a Go map in a hand-written loop.
// Parallelism 2 shuffles records by key group between two source tasks
// and two keyed tasks; parallelism 1 still has the exchange between one
// source task and one keyed task. The "process" variant does the count in
// a KeyedProcessFunction with a ValueState[int64].
func BenchmarkKeyedCount(b *testing.B) {
	for _, keys := range []int64{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			for _, p := range []int{1, 2} {
				b.Run(fmt.Sprintf("sluice-reduce/p%d", p), func(b *testing.B) {
					n := int64(b.N)
					sink := NewDiscard(ReadKeyCount)
					m := measure(b, n)
					run(b, reduceCountJob(n, keys, p, sink))
					m.done()
					checkCount(b, sink.Count(), n)
				})
			}
			b.Run("sluice-process/p1", func(b *testing.B) {
				n := int64(b.N)
				sink := NewDiscard(ReadKeyCount)
				m := measure(b, n)
				run(b, processCountJob(n, keys, 1, sink))
				m.done()
				checkCount(b, sink.Count(), n)
			})
			b.Run("hand-funcs/p1", func(b *testing.B) {
				n := int64(b.N)
				sink := NewDiscard(ReadKeyCount)
				m := measure(b, n)
				if err := countFuncs(n, GenKeyCount(keys), KeyOf, SumCounts, sink.Writer()); err != nil {
					b.Fatal(err)
				}
				m.done()
				checkCount(b, sink.Count(), n)
			})
			b.Run("hand-inline/p1", func(b *testing.B) {
				n := int64(b.N)
				m := measure(b, n)
				got, sum := countInline(n, keys)
				m.done()
				keep(sum)
				checkCount(b, got, n)
			})
		})
	}
}

// BenchmarkJobStartup is the fixed cost inside every engine benchmark: a
// job of the stateless chain with a single record, per op.
func BenchmarkJobStartup(b *testing.B) {
	for _, p := range []int{1, 2} {
		b.Run(fmt.Sprintf("chain/p%d", p), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				run(b, chainJob(1, p, NewDiscard(ReadSale)))
			}
		})
	}
	b.Run("keyed/p2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			run(b, reduceCountJob(1, 10, 2, NewDiscard(ReadKeyCount)))
		}
	})
}

// BenchmarkStateCount isolates the keyed state backend from the engine:
// the running count of BenchmarkKeyedCount done directly on a
// state.KeyedBackend (SetCurrentKey, Value, Update per record, 128 key
// groups as in the jobs) and on a Go map, with nothing emitted.
func BenchmarkStateCount(b *testing.B) {
	for _, keys := range []int64{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			b.Run("backend", func(b *testing.B) {
				n := int64(b.N)
				m := measure(b, n)
				be := state.NewKeyedBackend(state.Options[int64]{})
				count, err := state.Value[int64, int64](be, "count", nil)
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					if err := be.SetCurrentKey(i % keys); err != nil {
						b.Fatal(err)
					}
					c, _ := count.Value()
					count.Update(c + 1)
				}
				m.done()
			})
			b.Run("map", func(b *testing.B) {
				n := int64(b.N)
				m := measure(b, n)
				counts := make(map[int64]int64)
				for i := range n {
					counts[i%keys]++
				}
				m.done()
			})
		})
	}
}
