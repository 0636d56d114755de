package stream_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/internal/streamhook"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// twoSpeedJob builds: a fast generator of even numbers and a rate-limited
// generator of odd numbers (slowed down), unioned, (failure injection), keyed by v%keys
// into a running count, into an exactly-once sink. The fast input is held
// back by the slow count, so its channels are full while the slow input's
// are nearly empty: a barrier on a slow channel arrives long before the
// same barrier on a fast one, which is what alignment waits for and
// unaligned checkpoints capture.
func twoSpeedJob(env *stream.Env, nFast, nSlow, keys int64, f *sluicetest.Failer, sink *sluicetest.TxSink[string]) {
	fast := stream.Generate(env, nFast, func(i int64) int64 { return 2 * i }).UID("fast")
	slow := stream.Map(stream.Generate(env, nSlow, func(i int64) int64 { return 2*i + 1 }).UID("slow"), func(v int64) int64 {
		if v%20 == 1 {
			time.Sleep(time.Millisecond) // real time: the job's clock may be a manual one
		}
		return v
	}).UID("slow-down")
	u := fast.Union(slow).UID("union")
	u = sluicetest.InjectFailures(u, f).UID("fail")
	counts := stream.Reduce(stream.KeyBy(stream.Map(u, func(v int64) kv { return kv{Key: fmt.Sprint(v % keys), Count: 1} }).UID("kv"),
		func(v kv) string { return v.Key }), func(a, b kv) kv { return kv{a.Key, a.Count + b.Count} }).UID("count")
	var n atomic.Int64
	stream.Map(counts, func(v kv) string {
		if n.Add(1)%100 == 0 {
			time.Sleep(100 * time.Microsecond) // a slow consumer: input channels fill up
		}
		return fmt.Sprintf("%s=%d", v.Key, v.Count)
	}).UID("format").SinkTo("out", sink).UID("sink")
}

func twoSpeedExpected(nFast, nSlow, keys int64) []string {
	var out []string
	c := map[int64]int64{}
	add := func(v int64) {
		c[v%keys]++
		out = append(out, fmt.Sprintf("%d=%d", v%keys, c[v%keys]))
	}
	for i := range nFast {
		add(2 * i)
	}
	for i := range nSlow {
		add(2*i + 1)
	}
	slices.Sort(out)
	return out
}

// inflightStats counts, through the runtime's test hooks, the in-flight
// records stored and replayed.
type inflightStats struct {
	mu       sync.Mutex
	stored   map[int64]map[runtime.Partitioning]int64 // checkpoint -> partitioning -> records (at op "count" for Hash)
	replayed map[runtime.Partitioning]int64
	storedN  atomic.Int64
	replayN  atomic.Int64
}

func newInflightStats() *inflightStats {
	return &inflightStats{stored: map[int64]map[runtime.Partitioning]int64{}, replayed: map[runtime.Partitioning]int64{}}
}

func (s *inflightStats) hooks() runtime.Hooks {
	return runtime.Hooks{
		InflightStored: func(id int64, op string, subtask int, p runtime.Partitioning, records int64) {
			s.storedN.Add(records)
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.stored[id] == nil {
				s.stored[id] = map[runtime.Partitioning]int64{}
			}
			s.stored[id][p] += records
		},
		InflightReplayed: func(id int64, op string, subtask int, p runtime.Partitioning, records int64) {
			s.replayN.Add(records)
			s.mu.Lock()
			defer s.mu.Unlock()
			s.replayed[p] += records
		},
	}
}

func (s *inflightStats) storedTotal(id int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, r := range s.stored[id] {
		n += r
	}
	return n
}

func (s *inflightStats) storedFor(id int64, p runtime.Partitioning) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored[id][p]
}

// TestUnalignedRecovery runs the two-speed job with unaligned checkpoints
// (from the first barrier, and with a 1 ms aligned timeout) and injected
// failures: the exactly-once output equals the failure-free one, and
// in-flight records were stored and replayed.
func TestUnalignedRecovery(t *testing.T) {
	const nFast, nSlow, keys = 30000, 3000, 13
	for _, tc := range []struct {
		name    string
		timeout time.Duration
	}{{"unaligned", 0}, {"aligned-timeout", time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			var replayed int64
			// Whether the latest checkpoint at a failure holds in-flight
			// records is up to timing: run again (with other failure
			// points) until a replay happened, checking the output of
			// every run.
			for try := range 3 {
				rng := rand.New(rand.NewPCG(uint64(try), 11))
				f := sluicetest.RandomFailer(rng, 6, nFast+nSlow)
				sink := sluicetest.NewTxSink[string]()
				st := newInflightStats()
				var unaligned, completed atomic.Int64
				events := make(chan runtime.JobEvent, 1000)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for ev := range events {
						if ev.Kind == "checkpoint-completed" {
							completed.Add(1)
							if ev.Unaligned > 0 {
								unaligned.Add(1)
							}
						}
					}
				}()
				// Besides the random failure points, fail once right after
				// the first checkpoint that stored in-flight records
				// completes, so that a restore usually replays some.
				hooks := st.hooks()
				var forced atomic.Bool
				hooks.CheckpointCompleted = func(id int64, _ runtime.CheckpointKind) {
					if st.storedTotal(id) > 0 && !forced.Swap(true) {
						f.FailNext()
					}
				}
				env := stream.New("unaligned", stream.WithParallelism(2), stream.WithEvents(events), stream.WithLogger(quietLogger()),
					stream.WithCheckpointConfig(runtime.CheckpointConfig{Interval: 10 * time.Millisecond, Unaligned: true, AlignedTimeout: tc.timeout}),
					stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)), stream.WithMaxRepeatedFailures(-1),
					stream.WithBatchSize(64), withHooks(hooks))
				twoSpeedJob(env, nFast, nSlow, keys, f, sink)
				sluicetest.Run(t, env)
				close(events)
				<-done
				got := sink.Values()
				slices.Sort(got)
				if want := twoSpeedExpected(nFast, nSlow, keys); !slices.Equal(got, want) {
					t.Fatalf("after %d failures: got %d outputs, want %d (first diff at %d)", f.Failures(), len(got), len(want), firstDiff(got, want))
				}
				t.Logf("try %d: %d failures, %d checkpoints completed (%d with unaligned subtasks), %d in-flight records stored, %d replayed",
					try, f.Failures(), completed.Load(), unaligned.Load(), st.storedN.Load(), st.replayN.Load())
				if st.storedN.Load() == 0 {
					t.Fatalf("no in-flight records were captured")
				}
				if unaligned.Load() == 0 {
					t.Fatalf("no completed checkpoint was taken unaligned")
				}
				replayed += st.replayN.Load()
				if replayed > 0 {
					break
				}
			}
			if replayed == 0 {
				t.Fatalf("no in-flight records were replayed in 3 runs")
			}
		})
	}
}

// TestUnalignedRescale restores an unaligned checkpoint that holds
// in-flight records of a hash-partitioned input at parallelism 3 instead
// of 2: every new subtask keeps the records of its key groups, and the
// output is the same as without failure or rescaling.
func TestUnalignedRescale(t *testing.T) {
	const nFast, nSlow, keys = 60000, 6000, 101
	dir := t.TempDir()
	sink := sluicetest.NewTxSink[string]()
	st := newInflightStats()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var target atomic.Int64
	hooks := st.hooks()
	hooks.CheckpointCompleted = func(id int64, _ runtime.CheckpointKind) {
		if target.Load() != 0 || st.storedFor(id, runtime.Hash) == 0 {
			return
		}
		// Stop the job before any task learns that id completed, so that
		// id is the last checkpoint whose output is committed.
		target.Store(id)
		cancel()
		time.Sleep(100 * time.Millisecond)
	}
	events := make(chan runtime.JobEvent, 10000)
	env := stream.New("rescale-unaligned", stream.WithParallelism(2), stream.WithEvents(events), stream.WithLogger(quietLogger()),
		stream.WithCheckpointConfig(runtime.CheckpointConfig{Interval: 10 * time.Millisecond, Storage: dir, Retain: 1000, Unaligned: true}),
		stream.WithBatchSize(64), withHooks(hooks))
	twoSpeedJob(env, nFast, nSlow, keys, sluicetest.NewFailer(), sink)
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Wait(); err == nil || target.Load() == 0 {
		t.Fatalf("the job ended (%v) before a checkpoint held in-flight records of the keyed input", err)
	}
	id := target.Load()
	var path string
	for path == "" {
		select {
		case ev := <-events:
			if ev.Kind == "checkpoint-completed" && ev.CheckpointID == id {
				path = ev.Path
			}
		default:
			t.Fatalf("no completion event for checkpoint %d", id)
		}
	}
	stored := st.storedFor(id, runtime.Hash)
	t.Logf("checkpoint %d holds %d in-flight records of the keyed input; restoring it at parallelism 3", id, stored)

	st2 := newInflightStats()
	env2 := stream.New("rescale-unaligned", stream.WithParallelism(3), stream.WithLogger(quietLogger()),
		stream.WithCheckpointConfig(runtime.CheckpointConfig{Interval: 10 * time.Millisecond, Storage: dir, Unaligned: true}),
		stream.WithRestore(path), stream.WithBatchSize(64), withHooks(st2.hooks()))
	twoSpeedJob(env2, nFast, nSlow, keys, sluicetest.NewFailer(), sink)
	sluicetest.Run(t, env2)
	got := sink.Values()
	slices.Sort(got)
	if want := twoSpeedExpected(nFast, nSlow, keys); !slices.Equal(got, want) {
		t.Fatalf("got %d outputs, want %d (first diff at %d)", len(got), len(want), firstDiff(got, want))
	}
	st2.mu.Lock()
	replayedHash := st2.replayed[runtime.Hash]
	st2.mu.Unlock()
	if replayedHash != stored {
		t.Fatalf("the 3 new subtasks replayed %d in-flight records of the keyed input, the checkpoint holds %d", replayedHash, stored)
	}
}

// TestAlignedTimeoutClock: the aligned timeout is measured on the job's
// processing-time clock. While a manual clock stands still every checkpoint
// stays aligned, however long alignment takes; once the clock moves past
// the timeout, checkpoints switch to unaligned.
func TestAlignedTimeoutClock(t *testing.T) {
	const nFast, nSlow, keys = 20000, 2000, 7
	for _, advance := range []bool{false, true} {
		t.Run(fmt.Sprint("advance=", advance), func(t *testing.T) {
			clock := sluicetest.NewManualClock(time.Unix(1e9, 0))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if advance {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(time.Millisecond):
							clock.Advance(time.Hour)
						}
					}
				})
			}
			sink := sluicetest.NewTxSink[string]()
			st := newInflightStats()
			var unaligned atomic.Int64
			events := make(chan runtime.JobEvent, 1000)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for ev := range events {
					if ev.Kind == "checkpoint-completed" && ev.Unaligned > 0 {
						unaligned.Add(1)
					}
				}
			}()
			env := stream.New("timeout-clock", stream.WithParallelism(2), stream.WithEvents(events), stream.WithLogger(quietLogger()),
				stream.WithClock(clock), stream.WithBatchSize(64), withHooks(st.hooks()),
				stream.WithCheckpointConfig(runtime.CheckpointConfig{Interval: 10 * time.Millisecond, Unaligned: true, AlignedTimeout: time.Minute}))
			twoSpeedJob(env, nFast, nSlow, keys, sluicetest.NewFailer(), sink)
			sluicetest.Run(t, env)
			close(stop)
			wg.Wait()
			close(events)
			<-done
			got := sink.Values()
			slices.Sort(got)
			if want := twoSpeedExpected(nFast, nSlow, keys); !slices.Equal(got, want) {
				t.Fatalf("got %d outputs, want %d (first diff at %d)", len(got), len(want), firstDiff(got, want))
			}
			t.Logf("%d checkpoints with unaligned subtasks, %d in-flight records stored", unaligned.Load(), st.storedN.Load())
			if !advance && (unaligned.Load() != 0 || st.storedN.Load() != 0) {
				t.Fatalf("the clock stood still, yet %d checkpoints switched to unaligned", unaligned.Load())
			}
			if advance && unaligned.Load() == 0 {
				t.Fatalf("the clock moved an hour every millisecond, yet no checkpoint switched to unaligned")
			}
		})
	}
}

// TestUnalignedConfig: unaligned checkpoints need exactly-once mode, an
// aligned timeout needs unaligned checkpoints, and the records on the
// network must survive the default codec.
func TestUnalignedConfig(t *testing.T) {
	type hidden struct{ x int }
	for _, tc := range []struct {
		name string
		cfg  runtime.CheckpointConfig
		job  func(env *stream.Env)
	}{
		{"at-least-once", runtime.CheckpointConfig{Interval: time.Second, Mode: runtime.AtLeastOnce, Unaligned: true}, nil},
		{"timeout-without-unaligned", runtime.CheckpointConfig{Interval: time.Second, AlignedTimeout: time.Second}, nil},
		{"unexported-fields", runtime.CheckpointConfig{Interval: time.Second, Unaligned: true}, func(env *stream.Env) {
			s := stream.Map(stream.Generate(env, 10, func(i int64) int64 { return i }), func(i int64) hidden { return hidden{int(i)} })
			stream.Map(s.Rebalance(), func(h hidden) int { return h.x }).SinkTo("out", sluicetest.NewSink[int]())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := stream.New("config", stream.WithCheckpointConfig(tc.cfg), stream.WithLogger(quietLogger()))
			if tc.job != nil {
				tc.job(env)
			} else {
				stream.Generate(env, 10, func(i int64) int64 { return i }).SinkTo("out", sluicetest.NewSink[int64]())
			}
			err := sluicetest.RunErr(env, 10*time.Second)
			if !errors.Is(err, runtime.ErrConfig) {
				t.Fatalf("got %v, want an error wrapping ErrConfig", err)
			}
			t.Log(err)
		})
	}
}

// withHooks installs the runtime's test hooks h.
func withHooks(h runtime.Hooks) stream.Option {
	return func(e *stream.Env) { streamhook.SetHooks(e, h) }
}
