package stream_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// keyedCountJob builds: generator -> (failure injection) -> key by i%keys ->
// running count -> exactly-once sink. Every output is "key=count".
func keyedCountJob(env *stream.Env, n int64, keys int64, f *sluicetest.Failer, sink *sluicetest.TxSink[string], other ...connector.Sink[string]) {
	src := stream.Generate(env, n, func(i int64) int64 { return i }).UID("gen")
	if f != nil {
		src = sluicetest.InjectFailures(src, f)
	}
	counts := stream.Reduce(stream.KeyBy(stream.Map(src, func(i int64) kv { return kv{Key: fmt.Sprint(i % keys), Count: 1} }),
		func(v kv) string { return v.Key }), func(a, b kv) kv { return kv{a.Key, a.Count + b.Count} }).UID("count")
	var out connector.Sink[string] = sink
	if len(other) > 0 {
		out = other[0]
	}
	stream.Map(counts, func(v kv) string { return fmt.Sprintf("%s=%d", v.Key, v.Count) }).SinkTo("out", out).UID("sink")
}

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

func TestRecoveryExactlyOnceInProcess(t *testing.T) {
	const n, keys = 40000, 13
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprint("p=", p), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(p), 7))
			f := sluicetest.RandomFailer(rng, 5, n)
			sink := sluicetest.NewTxSink[string]()
			events, counts := countEvents()
			env := stream.New("recovery", stream.WithParallelism(p), stream.WithEvents(events),
				stream.WithCheckpointing(10*time.Millisecond, ""),
				stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)), stream.WithMaxRepeatedFailures(-1),
				stream.WithBatchSize(64), stream.WithLogger(quietLogger()))
			keyedCountJob(env, n, keys, f, sink)
			sluicetest.Run(t, env)
			got := sink.Values()
			slices.Sort(got)
			want := expectedCounts(n, keys)
			if !slices.Equal(got, want) {
				t.Fatalf("after %d failures: got %d outputs, want %d (first diff at %d)", f.Failures(), len(got), len(want), firstDiff(got, want))
			}
			// Every failure point is at most n, so the job passed all of
			// them. Failures of two subtasks of one attempt make one
			// restart; a restart restores a checkpoint when one completed.
			ev := counts()
			if f.Failures() != 5 || ev["restarting"] < 1 || ev["restarting"] > 5 || ev["restored"] > ev["restarting"] ||
				ev["checkpoint-completed"] < 1 || sink.Commits() < 1 {
				t.Errorf("%d injected failures (want 5), %d restarts (want 1 to 5), %d restores (want at most the restarts), %d checkpoints and %d commits (want some)",
					f.Failures(), ev["restarting"], ev["restored"], ev["checkpoint-completed"], sink.Commits())
			}
		})
	}
}

// TestRecoveryIncremental is the in-process fault-injection test with
// incremental checkpoints, kept in a local directory with retention of one
// checkpoint (so retention must keep the checkpoints a kept one builds
// on): the output equals the failure-free one, checkpoints were written
// as deltas, and restores read delta chains, also at another parallelism.
func TestRecoveryIncremental(t *testing.T) {
	const n, keys = 60000, 3000
	for _, tc := range []struct {
		p, p2     int
		maxDeltas int
	}{{1, 1, 0}, {2, 2, 3}, {2, 3, 0}} {
		t.Run(fmt.Sprintf("p=%d->%d,maxDeltas=%d", tc.p, tc.p2, tc.maxDeltas), func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(uint64(tc.p), uint64(tc.p2)))
			sink := sluicetest.NewTxSink[string]()
			var deltas, restoredDeltas, completed, lastDeltas atomic.Int64
			watch := func() (chan runtime.JobEvent, func()) {
				events := make(chan runtime.JobEvent, 1000)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for ev := range events {
						switch ev.Kind {
						case "checkpoint-completed":
							completed.Add(1)
							deltas.Add(int64(ev.KeyedDeltas))
							lastDeltas.Store(int64(ev.KeyedDeltas))
						case "restored":
							restoredDeltas.Add(int64(ev.KeyedDeltas))
						}
					}
				}()
				return events, func() { close(events); <-done }
			}
			cfg := runtime.CheckpointConfig{Interval: 10 * time.Millisecond, Storage: dir, Retain: 1, Incremental: true, MaxDeltas: tc.maxDeltas}
			// The first run fails at random points and is stopped halfway;
			// the second resumes at parallelism p2 from the latest
			// checkpoint and also fails now and then.
			f := sluicetest.RandomFailer(rng, 4, n/2).Pause(100, time.Millisecond)
			events, wait := watch()
			env := stream.New("incremental", stream.WithParallelism(tc.p), stream.WithEvents(events), stream.WithLogger(quietLogger()),
				stream.WithCheckpointConfig(cfg), stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)), stream.WithMaxRepeatedFailures(-1), stream.WithBatchSize(64))
			keyedCountJob(env, n, keys, f, sink)
			ctx, cancel := contextWithTimeout(t, time.Minute)
			job, err := env.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Stop when the latest checkpoint holds deltas, so that the
			// second run restores a chain.
			waitFor(t, func() bool { return f.Seen() > n/2 && deltas.Load() > 2 && lastDeltas.Load() > 0 }, "half the input and a checkpoint with deltas")
			cancel()
			job.Wait()
			wait()

			f2 := sluicetest.RandomFailer(rand.New(rand.NewPCG(9, uint64(tc.p2))), 3, n).Pause(100, time.Millisecond)
			events, wait = watch()
			env2 := stream.New("incremental", stream.WithParallelism(tc.p2), stream.WithEvents(events), stream.WithLogger(quietLogger()),
				stream.WithCheckpointConfig(cfg), stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)), stream.WithMaxRepeatedFailures(-1), stream.WithBatchSize(64),
				stream.WithRestore("latest"))
			keyedCountJob(env2, n, keys, f2, sink)
			sluicetest.Run(t, env2)
			wait()
			got := sink.Values()
			slices.Sort(got)
			if want := expectedCounts(n, keys); !slices.Equal(got, want) {
				t.Fatalf("after %d+%d failures: got %d outputs, want %d (first diff at %d)", f.Failures(), f2.Failures(), len(got), len(want), firstDiff(got, want))
			}
			// The first run saw more than n/2 records, so it passed all four
			// failure points (drawn from the first n/2).
			if f.Failures() != 4 {
				t.Errorf("%d injected failures in the first run, want 4", f.Failures())
			}
			if f2.Failures() > 3 {
				t.Errorf("%d injected failures in the second run, want at most 3", f2.Failures())
			}
			if restoredDeltas.Load() == 0 || deltas.Load() == 0 || completed.Load() == 0 {
				t.Errorf("%d checkpoints with %d delta files, restores read %d delta files: want some of each", completed.Load(), deltas.Load(), restoredDeltas.Load())
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestRescaleFromSavepoint takes a savepoint of a keyed count at
// parallelism 2, cancels the job, and finishes it from the savepoint at
// parallelism 1 and 3: the output is the same as without rescaling.
func TestRescaleFromSavepoint(t *testing.T) {
	const n, keys = 40000, 101
	for _, p2 := range []int{1, 3} {
		t.Run(fmt.Sprint("2->", p2), func(t *testing.T) {
			dir := t.TempDir()
			sink := sluicetest.NewTxSink[string]()
			f := sluicetest.NewFailer() // no failures: only slows the source
			env := stream.New("rescale", stream.WithParallelism(2), stream.WithLogger(quietLogger()),
				stream.WithCheckpointConfig(runtime.CheckpointConfig{Storage: dir}))
			keyedCountJob(env, n, keys, f, sink)
			ctx, cancel := contextWithTimeout(t, time.Minute)
			job, err := env.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return f.Seen() > n/4 }, "a quarter of the input")
			sp, err := job.Savepoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			job.Wait()
			if len(sink.Values()) != 0 {
				t.Fatalf("a savepoint must not commit: %d values visible", len(sink.Values()))
			}

			env2 := stream.New("rescale", stream.WithParallelism(p2), stream.WithLogger(quietLogger()),
				stream.WithCheckpointing(10*time.Millisecond, dir), stream.WithRestore(sp))
			keyedCountJob(env2, n, keys, sluicetest.NewFailer(), sink)
			sluicetest.Run(t, env2)
			got := sink.Values()
			slices.Sort(got)
			if want := expectedCounts(n, keys); !slices.Equal(got, want) {
				t.Fatalf("got %d outputs, want %d (first diff at %d)", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

// declineOnce is a two-phase sink whose subtask 1 fails its pre-commit
// once; it records every checkpoint id it pre-committed per attempt.
type idRecorder struct {
	*sluicetest.TxSink[string]
	mu     sync.Mutex
	seen   map[int64]int
	failed atomic.Bool
}

type idWriter struct {
	connector.Writer[string]
	r       *idRecorder
	subtask int
}

func (r *idRecorder) NewWriter(ctx connector.WriterContext, st [][]byte) (connector.Writer[string], error) {
	w, err := r.TxSink.NewWriter(ctx, st)
	return &idWriter{Writer: w, r: r, subtask: ctx.Subtask()}, err
}

func (w *idWriter) PreCommit(ctx context.Context, id int64) ([][]byte, error) {
	w.r.mu.Lock()
	w.r.seen[id]++
	w.r.mu.Unlock()
	if w.subtask == 1 && id >= 3 && w.r.failed.CompareAndSwap(false, true) {
		return nil, errors.New("injected pre-commit failure")
	}
	return w.Writer.(connector.PreCommitter).PreCommit(ctx, id)
}

// TestCheckpointIDsNeverReused: a checkpoint that fails (its directory is
// deleted) must not have its id used again by the restarted job.
func TestCheckpointIDsNeverReused(t *testing.T) {
	rec := &idRecorder{TxSink: sluicetest.NewTxSink[string](), seen: map[int64]int{}}
	env := stream.New("ids", stream.WithParallelism(2), stream.WithLogger(quietLogger()),
		stream.WithCheckpointing(10*time.Millisecond, t.TempDir()),
		stream.WithRestart(restart.FixedDelay(3, time.Millisecond)))
	// Paced so that the job outlives a few checkpoints even on a fast
	// machine: about 400 ms of pauses at 10 ms intervals.
	keyedCountJob(env, 40000, 7, sluicetest.NewFailer().Pause(100, time.Millisecond), nil, rec)
	sluicetest.Run(t, env)
	if !rec.failed.Load() {
		t.Fatal("the injected failure did not happen")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for id, n := range rec.seen {
		if n > 2 { // two subtasks pre-commit each id once
			t.Errorf("checkpoint id %d pre-committed %d times: reused after a failure", id, n)
		}
	}
}
