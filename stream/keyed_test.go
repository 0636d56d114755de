package stream_test

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

type kv struct {
	Key   string
	Count int64
}

func cmpKV(a, b kv) int {
	if c := cmp.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return cmp.Compare(a.Count, b.Count)
}

func TestRunningCountReduce(t *testing.T) {
	for _, p := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("p=", p), func(t *testing.T) {
			env := stream.New("count", stream.WithParallelism(p))
			out := sluicetest.NewSink[kv]()
			src := stream.Generate(env, 3000, func(i int64) kv { return kv{Key: fmt.Sprint("k", i%7), Count: 1} })
			counts := stream.Reduce(stream.KeyBy(src, func(v kv) string { return v.Key }), func(a, b kv) kv {
				return kv{Key: a.Key, Count: a.Count + b.Count}
			})
			counts.SinkTo("out", out)
			sluicetest.Run(t, env)
			got := sorted(out.Values(), cmpKV)
			var want []kv
			for k := range 7 {
				n := int64(3000 / 7)
				if k < 3000%7 {
					n++
				}
				for c := int64(1); c <= n; c++ {
					want = append(want, kv{fmt.Sprint("k", k), c})
				}
			}
			slices.SortFunc(want, cmpKV)
			if !slices.Equal(got, want) {
				t.Fatalf("got %d updates, want %d", len(got), len(want))
			}
		})
	}
}

type avg struct{ sum, n int64 }

type avgAgg struct{}

func (avgAgg) CreateAccumulator() avg { return avg{} }
func (avgAgg) Add(a avg, v int64) avg { return avg{a.sum + v, a.n + 1} }
func (avgAgg) Result(a avg) float64   { return float64(a.sum) / float64(a.n) }
func (avgAgg) Merge(a, b avg) avg     { return avg{a.sum + b.sum, a.n + b.n} }

func TestRunningAggregate(t *testing.T) {
	env := stream.New("agg", stream.WithParallelism(2))
	out := sluicetest.NewSink[float64]()
	// One source subtask: a running average depends on arrival order, and
	// two source subtasks would interleave nondeterministically.
	src := stream.FromSlice(env, []int64{2, 4, 6, 8}).Parallelism(1)
	stream.Aggregate(stream.KeyBy(src, func(int64) int { return 0 }), avgAgg{}).SinkTo("out", out)
	sluicetest.Run(t, env)
	if got := out.Values(); !slices.Equal(got, []float64{2, 3, 4, 5}) {
		t.Fatalf("got %v", got)
	}
}

// A keyed process function with value, list and map state, event-time
// timers and a side output: per key it sums values, and when the watermark
// passes the record's time + 10 it emits the sum; odd values also go to a
// side output.
func TestKeyedProcessStateTimersSideOutput(t *testing.T) {
	type ev struct {
		Key string
		V   int64
		Ts  int64
	}
	var events []ev
	for i := range 200 {
		events = append(events, ev{Key: fmt.Sprint("k", i%3), V: int64(i), Ts: int64(i * 5)})
	}
	odd := stream.NewOutputTag[int64]("odd")
	env := stream.New("process", stream.WithParallelism(2))
	src := stream.FromSource(env, "events", collection.Slice(events, collection.Timestamps(func(i int64) int64 { return events[i].Ts })),
		eventtime.BoundedOutOfOrderness[ev](0))
	type result struct {
		Key   string
		Sum   int64
		Fired int64
		Seen  int
		Keys  int
	}
	newFn := func() stream.KeyedProcessFunction[string, ev, result] {
		var (
			sum  state.ValueState[int64]
			all  state.ListState[int64]
			seen state.MapState[int64, bool]
		)
		return stream.KeyedProcessFuncs[string, ev, result]{
			OpenFn: func(rt *stream.KeyedRuntime[string]) (err error) {
				if sum, err = stream.ValueState[int64](rt, "sum"); err != nil {
					return err
				}
				if all, err = stream.ListState[int64](rt, "all"); err != nil {
					return err
				}
				seen, err = stream.MapState[int64, bool](rt, "seen")
				return err
			},
			ProcessFn: func(ctx *stream.KeyedContext[string], v ev, out stream.Collector[result]) error {
				s, _ := sum.Value()
				sum.Update(s + v.V)
				all.Add(v.V)
				seen.Put(v.V%10, true)
				if v.V%2 == 1 {
					stream.Side(&ctx.Context, odd, v.V)
				}
				ctx.RegisterEventTimeTimer(ctx.Timestamp() + 10)
				return nil
			},
			OnTimerFn: func(ctx *stream.KeyedContext[string], ts int64, out stream.Collector[result]) error {
				s, _ := sum.Value()
				out.Collect(result{Key: ctx.Key(), Sum: s, Fired: ts, Seen: len(all.Get()), Keys: seen.Len()})
				return nil
			},
		}
	}
	main := stream.ProcessKeyed(stream.KeyBy(src, func(e ev) string { return e.Key }), newFn)
	mainOut := sluicetest.NewSink[result]()
	oddOut := sluicetest.NewSink[int64]()
	main.SinkTo("main", mainOut)
	stream.SideOutput(main, odd).SinkTo("odd", oddOut)
	sluicetest.Run(t, env)

	if got := len(oddOut.Values()); got != 100 {
		t.Fatalf("odd side output got %d values, want 100", got)
	}
	res := mainOut.Values()
	if len(res) != 200 {
		t.Fatalf("got %d timer firings, want 200 (one per record)", len(res))
	}
	// The last firing per key sees every record of the key.
	last := map[string]result{}
	for _, r := range res {
		if r.Fired > last[r.Key].Fired {
			last[r.Key] = r
		}
	}
	for k, r := range last {
		var want int64
		n := 0
		for _, e := range events {
			if e.Key == k {
				want += e.V
				n++
			}
		}
		if r.Sum != want || r.Seen != n || r.Keys != 10 {
			t.Errorf("key %s: last firing %+v, want sum %d seen %d keys 10", k, r, want, n)
		}
	}
}

// TestProcessingTimeTimers: processing-time timers fire when the job's
// clock passes them, once per key and time, and not before.
func TestProcessingTimeTimers(t *testing.T) {
	clock := sluicetest.NewManualClock(time.UnixMilli(1_000_000))
	env := stream.New("ptimers", stream.WithClock(clock))
	out := sluicetest.NewSink[string]()
	var armed, fired, afterFiring atomic.Int64
	src := stream.FromSource(env, "slow", collection.Generate(-1, func(i int64) string { return fmt.Sprint("k", i%2) }, collection.Rate(1000)),
		eventtime.NoWatermarks[string]())
	src = stream.Filter(src, func(string) bool { return true })
	timers := stream.ProcessKeyed(stream.KeyBy(src, func(s string) string { return s }), func() stream.KeyedProcessFunction[string, string, string] {
		var st state.ValueState[bool]
		return stream.KeyedProcessFuncs[string, string, string]{
			OpenFn: func(rt *stream.KeyedRuntime[string]) (err error) {
				st, err = stream.ValueState[bool](rt, "armed")
				return err
			},
			ProcessFn: func(ctx *stream.KeyedContext[string], v string, _ stream.Collector[string]) error {
				if fired.Load() == 2 {
					afterFiring.Add(1)
				}
				if _, ok := st.Value(); !ok {
					st.Update(true)
					ctx.RegisterProcessingTimeTimer(1_000_500)
					armed.Add(1)
				}
				return nil
			},
			OnTimerFn: func(ctx *stream.KeyedContext[string], ts int64, out stream.Collector[string]) error {
				if ctx.TimeDomain() != stream.ProcessingTime {
					return fmt.Errorf("domain %v", ctx.TimeDomain())
				}
				fired.Add(1)
				out.Collect(fmt.Sprintf("%s@%d", ctx.Key(), ts))
				return nil
			},
		}
	})
	timers.SinkTo("out", out)
	ctx, cancel := contextWithTimeout(t, 30*time.Second)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Both keys registered their timer; the clock has not moved, so none
	// fired, however many records went by.
	waitFor(t, func() bool { return armed.Load() == 2 }, "both keys to register a timer")
	if n := out.Len(); n != 0 {
		t.Fatalf("%d timers fired before the clock moved", n)
	}
	clock.Advance(time.Second)
	waitFor(t, func() bool { return out.Len() >= 2 }, "two timers")
	// Timers fire in the task's goroutine between records: once the
	// function has handled many records after both fired, a timer that
	// fired twice, or was registered again, would have shown.
	waitFor(t, func() bool { return afterFiring.Load() >= 100 }, "records after the timers fired")
	cancel()
	job.Wait()
	got := sorted(out.Values(), cmp.Compare[string])
	if !slices.Equal(got, []string{"k0@1000500", "k1@1000500"}) || armed.Load() != 2 {
		t.Fatalf("got %v after %d timers registered, want each key's timer once", got, armed.Load())
	}
}
