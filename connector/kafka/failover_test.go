package kafka

import (
	"context"
	"fmt"
	"github.com/sluicehq/sluice/internal/streamhook"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

type keyCount struct {
	Key, Count int64
}

// indexOf parses the number after the last '-' of a value written by
// produceN.
func indexOf(v string) int64 {
	i, err := strconv.ParseInt(v[strings.LastIndexByte(v, '-')+1:], 10, 64)
	if err != nil {
		panic(fmt.Sprintf("value %q: %v", v, err))
	}
	return i
}

// countJob builds: Kafka source -> (hook) -> key by index % keys ->
// running count -> "key=count" -> Kafka sink.
func countJob(env *stream.Env, src *Source[string], snk connector.Sink[string], keys int64, hook func() error) {
	s := stream.FromSource(env, "kafka-in", src, eventtime.NoWatermarks[string]()).UID("source")
	if hook != nil {
		s = stream.TryMap(s, func(v string) (string, error) { return v, hook() }).UID("hook")
	}
	pairs := stream.Map(s, func(v string) keyCount { return keyCount{Key: indexOf(v) % keys, Count: 1} }).UID("pair")
	counts := stream.Reduce(stream.KeyBy(pairs, func(v keyCount) int64 { return v.Key }),
		func(a, b keyCount) keyCount { return keyCount{a.Key, a.Count + b.Count} }).UID("count")
	stream.Map(counts, func(v keyCount) string { return fmt.Sprintf("%d=%d", v.Key, v.Count) }).UID("format").
		SinkTo("kafka-out", snk).UID("sink")
}

// expectedCounts is the failure-free output of countJob over n inputs.
func expectedCounts(n, keys int64) []string {
	var out []string
	c := map[int64]int64{}
	for i := range n {
		c[i%keys]++
		out = append(out, fmt.Sprintf("%d=%d", i%keys, c[i%keys]))
	}
	slices.Sort(out)
	return out
}

// checkExactlyOnce compares what a read_committed consumer sees in topic
// with the failure-free output, and checks that no transaction is open.
func checkExactlyOnce(t *testing.T, addr, topic string, n, keys int64) {
	t.Helper()
	got := sorted(values(consume(t, addr, topic, true)))
	wantVals := expectedCounts(n, keys)
	if !slices.Equal(got, wantVals) {
		missing, dup := diff(got, wantVals)
		t.Fatalf("read_committed output: %d records, want %d; %d missing (e.g. %v), %d extra (e.g. %v)",
			len(got), len(wantVals), len(missing), head(missing), len(dup), head(dup))
	}
	waitFor(t, 10*time.Second, func() bool { return stable(t, addr, topic) }, "no open transaction on "+topic)
}

func diff(got, want []string) (missing, extra []string) {
	g := map[string]int{}
	for _, v := range got {
		g[v]++
	}
	for _, v := range want {
		if g[v] == 0 {
			missing = append(missing, v)
		} else {
			g[v]--
		}
	}
	for v, k := range g {
		for range k {
			extra = append(extra, v)
		}
	}
	return missing, extra
}

func head(s []string) []string { return s[:min(len(s), 5)] }

// TestExactlyOnceFailover: Kafka source -> keyed running count ->
// exactly-once Kafka sink, with failures injected and the job restarted
// from its latest checkpoint in-process: a read_committed consumer sees
// every input's effect exactly once, and no transaction stays open.
func TestExactlyOnceFailover(t *testing.T) {
	const n, keys = 12000, 13
	_, addr := newCluster(t, 4, "fo-in", "fo-out-1", "fo-out-2")
	produceN(t, addr, "fo-in", 4, 0, n)
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprint("p=", p), func(t *testing.T) {
			out := fmt.Sprint("fo-out-", p)
			f := sluicetest.RandomFailer(rand.New(rand.NewPCG(uint64(p), 11)), 5, n).Pause(100, time.Millisecond)
			src := mustSource(t, String(), Brokers(addr), Topics("fo-in"), Bounded(), Group(out))
			snk := mustSink(t, StringSerializer(out), Brokers(addr), ExactlyOnce(out), ExpectCheckpoints(20*time.Millisecond, 0))
			events := make(chan runtime.JobEvent, 10000)
			env := stream.New("failover", stream.WithParallelism(p), stream.WithLogger(quietLogger()), stream.WithEvents(events),
				stream.WithCheckpointing(20*time.Millisecond, ""), stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)), stream.WithMaxRepeatedFailures(-1),
				stream.WithBatchSize(64))
			countJob(env, src, snk, keys, f.Check)
			sluicetest.Run(t, env)
			close(events)
			restores, completed := 0, 0
			for ev := range events {
				switch ev.Kind {
				case "restored":
					restores++
				case "checkpoint-completed":
					completed++
				}
			}
			if f.Failures() == 0 || restores == 0 {
				t.Fatalf("%d failures, %d restores: the test did not exercise recovery", f.Failures(), restores)
			}
			checkExactlyOnce(t, addr, out, n, keys)
			t.Logf("%d injected failures, %d restores, %d checkpoints", f.Failures(), restores, completed)
		})
	}
}

// crashSink wraps an exactly-once sink so that closing a writer does not
// abort its open transaction, as when the process dies.
type crashSink struct{ *Sink[string] }

func (s crashSink) NewWriter(ctx connector.WriterContext, restored [][]byte) (connector.Writer[string], error) {
	w, err := s.Sink.NewWriter(ctx, restored)
	if err != nil {
		return nil, err
	}
	return crashWriter{w.(*txWriter[string])}, nil
}

type crashWriter struct{ *txWriter[string] }

func (w crashWriter) Close() error {
	if t := w.cur; t != nil {
		t.cl.Close()
	}
	return nil
}

// TestScaleDownAbortsLingering: a job at parallelism 3 dies with a
// transaction open in every sink subtask; restored at parallelism 2, the
// writers abort the transactions of the removed subtask 2 too (its state
// reaches subtask 0), so the last stable offset catches up, and the output
// is exactly once.
func TestScaleDownAbortsLingering(t *testing.T) {
	const n, keys = 6000, 13
	_, addr := newCluster(t, 6, "sd-in", "sd-out")
	produceN(t, addr, "sd-in", 6, 0, n)
	dir := t.TempDir()
	newSink := func() *Sink[string] {
		return mustSink(t, StringSerializer("sd-out"), Brokers(addr), ExactlyOnce("sd"), ExpectCheckpoints(30*time.Millisecond, 0))
	}
	src := mustSource(t, String(), Brokers(addr), Topics("sd-in"), Bounded())

	var seen atomic.Int64
	slow := func() error {
		if seen.Add(1)%10 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	}
	events := make(chan runtime.JobEvent, 10000)
	env := stream.New("scale-down", stream.WithParallelism(3), stream.WithLogger(quietLogger()), stream.WithEvents(events),
		stream.WithCheckpointing(30*time.Millisecond, dir), stream.WithBatchSize(16))
	countJob(env, src, crashSink{newSink()}, keys, slow)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, addr)
	pool2 := make([]string, DefaultTransactionPoolSize)
	for k := range pool2 {
		pool2[k] = transactionalID("sd", 2, k)
	}
	ongoing := func() int {
		d, err := adm.DescribeTransactions(context.Background(), pool2...)
		if err != nil {
			t.Fatal(err)
		}
		c := 0
		for _, tx := range d {
			if tx.State == "Ongoing" {
				c++
			}
		}
		return c
	}
	completed := 0
	deadline := time.After(30 * time.Second)
	for completed < 3 || seen.Load() < n/3 || ongoing() == 0 {
		select {
		case ev := <-events:
			if ev.Kind == "checkpoint-completed" {
				completed++
			}
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("job 1 made no progress: %d checkpoints, %d records", completed, seen.Load())
		}
	}
	cancel()
	job.Wait()
	if seen.Load() >= n {
		t.Fatal("job 1 finished: nothing left for the restored job")
	}
	lingering := ongoing()
	if lingering == 0 {
		t.Log("subtask 2 closed its transactions before the cancel took effect: the restore has nothing of it to abort")
	}

	env2 := stream.New("scale-down", stream.WithParallelism(2), stream.WithLogger(quietLogger()),
		stream.WithCheckpointing(30*time.Millisecond, dir), stream.WithRestore("latest"))
	countJob(env2, src, newSink(), keys, nil)
	sluicetest.Run(t, env2)
	checkExactlyOnce(t, addr, "sd-out", n, keys)
	t.Logf("job 1: %d records, %d checkpoints, %d transactions of subtask 2 open (including pre-committed)", seen.Load(), completed, lingering)
}

// TestExactlyOnceVisibleAfterCompletion looks at the output topic when a
// checkpoint has completed but no task was told yet (the runtime's
// CheckpointCompleted hook): the checkpoint's records are in Kafka but
// invisible to read_committed consumers; they become visible with the
// commit, and at the end everything is.
func TestExactlyOnceVisibleAfterCompletion(t *testing.T) {
	const n = 3000
	_, addr := newCluster(t, 2, "vis-out")
	snk := mustSink(t, StringSerializer("vis-out"), Brokers(addr), ExactlyOnce("vis-job"), ExpectCheckpoints(50*time.Millisecond, 0))
	sum := func(m map[int32]int64) (s int64) {
		for _, o := range m {
			s += o
		}
		return s
	}
	type look struct{ id, stable, end int64 }
	var looks []look
	hook := func(id int64, _ runtime.CheckpointKind) {
		looks = append(looks, look{id, sum(offsets(t, addr, "vis-out", true)), sum(offsets(t, addr, "vis-out", false))})
	}
	env := stream.New("visible", stream.WithLogger(quietLogger()), stream.WithCheckpointing(50*time.Millisecond, ""),
		func(env *stream.Env) { streamhook.SetHooks(env, runtime.Hooks{CheckpointCompleted: hook}) })
	gen := collection.Generate(n, func(i int64) string { return fmt.Sprint(i) }, collection.Rate(5000))
	stream.FromSource(env, "gen", gen, eventtime.NoWatermarks[string]()).SinkTo("kafka", snk)
	sluicetest.Run(t, env)
	pending := 0
	for _, l := range looks {
		if l.stable < l.end {
			pending++
		}
		if l.stable > l.end {
			t.Fatalf("checkpoint %d: last stable offsets %d beyond the ends %d", l.id, l.stable, l.end)
		}
	}
	if pending < len(looks)/2 {
		t.Fatalf("at %d of %d completions the checkpoint's records were already visible: %+v", len(looks)-pending, len(looks), looks)
	}
	if got := len(consume(t, addr, "vis-out", true)); got != n || !stable(t, addr, "vis-out") {
		t.Fatalf("%d records visible at the end, want %d", got, n)
	}
}
