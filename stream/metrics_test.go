package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// runJob starts env's job, waits for it to end and returns the job.
func runJob(t *testing.T, env *stream.Env) *runtime.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Wait(); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	return job
}

// byOperator returns the metrics summed over subtasks, by operator name.
func byOperator(t *testing.T, m []runtime.OperatorMetrics) map[string]runtime.OperatorMetrics {
	t.Helper()
	out := map[string]runtime.OperatorMetrics{}
	for _, e := range runtime.SumBySubtask(m) {
		if _, dup := out[e.Operator]; dup {
			t.Fatalf("operator name %q twice in %v", e.Operator, m)
		}
		out[e.Operator] = e
	}
	return out
}

func checkCounts(t *testing.T, got map[string]runtime.OperatorMetrics, want map[string][2]int64) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("no metrics of %q in %v", name, got)
			continue
		}
		if g.RecordsIn != w[0] || g.RecordsOut != w[1] {
			t.Errorf("%s: in %d out %d, want in %d out %d", name, g.RecordsIn, g.RecordsOut, w[0], w[1])
		}
	}
	if len(got) != len(want) {
		t.Errorf("metrics of %d operators, want %d: %v", len(got), len(want), got)
	}
}

// metricsJob is source -> map -> filter (chained) -> hash exchange ->
// running count per key -> sink (chained), at parallelism 2. The filter
// keeps the multiples of 3.
func metricsJob(env *stream.Env, n int, fail func(int) error) *sluicetest.Sink[string] {
	s := stream.FromSlice(env, ints(n)).Name("source").UID("source")
	s = stream.TryMap(s, func(v int) (int, error) { return v * 2, fail(v) }).Name("double").UID("double")
	s = stream.Filter(s, func(v int) bool { return v%3 == 0 }).Name("thirds").UID("thirds")
	type kc struct{ K, C int }
	counts := stream.Reduce(stream.KeyBy(stream.Map(s, func(v int) kc { return kc{v % 7, 1} }).Name("pair").UID("pair"),
		func(v kc) int { return v.K }), func(a, b kc) kc { return kc{a.K, a.C + b.C} }).Name("count").UID("count")
	out := sluicetest.NewSink[string]()
	stream.Map(counts, func(v kc) string { return fmt.Sprint(v.K, "=", v.C) }).Name("format").UID("format").
		SinkTo("sink", out).UID("sink")
	return out
}

func TestMetricsCounts(t *testing.T) {
	const n = 10000
	kept := int64(0)
	for i := range n {
		if (i*2)%3 == 0 {
			kept++
		}
	}
	env := stream.New("metrics", stream.WithParallelism(2), stream.WithBatchSize(64), stream.WithLogger(quietLogger()))
	out := metricsJob(env, n, func(int) error { return nil })
	job := runJob(t, env)
	if int64(out.Len()) != kept {
		t.Fatalf("sink got %d records, want %d", out.Len(), kept)
	}
	m := job.Metrics()
	// One entry per operator subtask, subtasks of an operator together.
	if len(m) != 7*2 {
		t.Fatalf("%d entries, want 14: %v", len(m), m)
	}
	for i := 0; i < len(m); i += 2 {
		if m[i].UID != m[i+1].UID || m[i].Subtask != 0 || m[i+1].Subtask != 1 {
			t.Fatalf("entries %d and %d are not subtasks 0 and 1 of one operator: %v", i, i+1, m)
		}
	}
	if m[0].Operator != "source" || m[len(m)-1].Operator != "sink" {
		t.Errorf("not in plan order: %v", m)
	}
	// Chained operators of one subtask see what their predecessor emitted.
	sub := map[string][2]runtime.OperatorMetrics{}
	for _, e := range m {
		s := sub[e.Operator]
		s[e.Subtask] = e
		sub[e.Operator] = s
	}
	for s := range 2 {
		for _, pair := range [][2]string{{"source", "double"}, {"double", "thirds"}, {"thirds", "pair"}, {"count", "format"}, {"format", "sink"}} {
			if o, i := sub[pair[0]][s].RecordsOut, sub[pair[1]][s].RecordsIn; o != i {
				t.Errorf("subtask %d: %s emitted %d, %s received %d", s, pair[0], o, pair[1], i)
			}
		}
		if sub["count"][s].RecordsIn == 0 {
			t.Errorf("keyed subtask %d received nothing: %v", s, m)
		}
	}
	checkCounts(t, byOperator(t, m), map[string][2]int64{
		"source": {0, n},
		"double": {n, n},
		"thirds": {n, kept},
		"pair":   {kept, kept},
		"count":  {kept, kept},
		"format": {kept, kept},
		"sink":   {kept, 0},
	})
}

// TestMetricsFanOutAndSideOutput: a record emitted to two consumers counts
// once; side outputs count as output, also when nothing consumes them.
func TestMetricsFanOutAndSideOutput(t *testing.T) {
	const n = 1000
	env := stream.New("fan", stream.WithParallelism(2), stream.WithLogger(quietLogger()))
	odd := stream.NewOutputTag[int]("odd")
	unused := stream.NewOutputTag[int]("unused")
	src := stream.FromSlice(env, ints(n)).Name("source")
	evens := stream.Process(src, func(ctx *stream.Context, v int, out stream.Collector[int]) error {
		if v%2 == 0 {
			out.Collect(v)
		} else {
			stream.Side(ctx, odd, v)
		}
		if v%10 == 0 {
			stream.Side(ctx, unused, v)
		}
		return nil
	}).Name("split")
	stream.SideOutput(evens, odd).SinkTo("odds", sluicetest.NewSink[int]())
	evens.SinkTo("evens-a", sluicetest.NewSink[int]())
	evens.Rebalance().SinkTo("evens-b", sluicetest.NewSink[int]()).Parallelism(1)
	stream.SideOutput(evens, unused) // declared, not consumed
	job := runJob(t, env)
	got := byOperator(t, job.Metrics())
	for name, w := range map[string][2]int64{
		"source":  {0, n},
		"split":   {n, n + n/10},
		"odds":    {n / 2, 0},
		"evens-a": {n / 2, 0},
		"evens-b": {n / 2, 0},
	} {
		if g := got[name]; g.RecordsIn != w[0] || g.RecordsOut != w[1] {
			t.Errorf("%s: in %d out %d, want in %d out %d (all: %v)", name, g.RecordsIn, g.RecordsOut, w[0], w[1], got)
		}
	}
}

// TestMetricsAcrossRestarts: the counts survive in-process restarts and
// only grow; records processed again after a restore are counted again.
func TestMetricsAcrossRestarts(t *testing.T) {
	const n = 20000
	var failed atomic.Int64
	env := stream.New("metrics-restart", stream.WithParallelism(2), stream.WithBatchSize(64),
		stream.WithCheckpointing(10*time.Millisecond, ""),
		stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)),
		stream.WithLogger(quietLogger()))
	var seen atomic.Int64
	metricsJob(env, n, func(int) error {
		c := seen.Add(1)
		if c%500 == 0 {
			time.Sleep(time.Millisecond) // let checkpoints complete between failures
		}
		if (c == n/3 || c == 2*n/3) && failed.Load() < 2 {
			failed.Add(1)
			return errors.New("injected failure")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Poll while the job runs: no count ever goes down.
	prev := job.Metrics()
	var polls int
	check := func() {
		cur := job.Metrics()
		polls++
		for i := range cur {
			if cur[i].RecordsIn < prev[i].RecordsIn || cur[i].RecordsOut < prev[i].RecordsOut {
				t.Errorf("%s/%d went down: %+v -> %+v", cur[i].Operator, cur[i].Subtask, prev[i], cur[i])
			}
		}
		prev = cur
	}
	for done := false; !done; {
		select {
		case <-job.Done():
			done = true
		case <-time.After(time.Millisecond):
		}
		check()
	}
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	if failed.Load() != 2 {
		t.Fatalf("%d injected failures, want 2", failed.Load())
	}
	got := byOperator(t, job.Metrics())
	// Every failure loses at least the failing record's work, which is
	// done again after the restore.
	if src := got["source"]; src.RecordsOut <= n || src.RecordsIn != 0 {
		t.Errorf("source after 2 restarts: %+v, want more than %d out", src, n)
	}
	if d := got["double"]; d.RecordsIn <= n || d.RecordsIn != got["source"].RecordsOut {
		t.Errorf("double: in %d, want more than %d and what the source emitted (%d)", d.RecordsIn, n, got["source"].RecordsOut)
	}
	// The keyed chain saw every kept record at least once, and its
	// operators agree with each other.
	kept := int64(0)
	for i := range n {
		if (i*2)%3 == 0 {
			kept++
		}
	}
	c, f, s := got["count"], got["format"], got["sink"]
	if c.RecordsIn < kept || c.RecordsOut != c.RecordsIn || f.RecordsIn != c.RecordsOut || f.RecordsOut != f.RecordsIn || s.RecordsIn != f.RecordsOut {
		t.Errorf("count %+v, format %+v, sink %+v: want equal counts of at least %d", c, f, s, kept)
	}
	t.Logf("%d polls; final %v", polls, runtime.SumBySubtask(job.Metrics()))
}
