package stream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// countingJob builds generator(n) -> map(fn) -> sink and returns how many
// attempts started (the map's Open count is not public: the map counts
// records with i == 0 instead).
func failingJob(env *stream.Env, n int64, fn func(i int64) (int64, error), sink connector.Sink[int64]) {
	src := stream.Generate(env, n, func(i int64) int64 { return i }).UID("gen")
	stream.Process(src, func(ctx *stream.Context, i int64, out stream.Collector[int64]) error {
		v, err := fn(i)
		if err != nil {
			return err
		}
		out.Collect(v)
		return nil
	}).UID("fail").SinkTo("out", sink).UID("sink")
}

func TestPermanentFailureEndsTheJobAtOnce(t *testing.T) {
	var starts atomic.Int64
	env := stream.New("permanent", stream.WithCheckpointing(10*time.Millisecond, ""), stream.WithLogger(quietLogger()),
		stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)))
	failingJob(env, 100, func(i int64) (int64, error) {
		if i == 0 {
			starts.Add(1)
		}
		if i == 50 {
			return 0, connector.Permanent(errors.New("record 50 is malformed"))
		}
		return i, nil
	}, sluicetest.NewSink[int64]())
	err := sluicetest.RunErr(env, 20*time.Second)
	if err == nil || !connector.IsPermanent(err) || !strings.Contains(err.Error(), "record 50 is malformed") {
		t.Fatalf("err = %v, want the permanent failure", err)
	}
	if !strings.Contains(err.Error(), "not restarting, as a retry cannot help") {
		t.Errorf("err = %v, want it to say why the job did not restart", err)
	}
	if n := starts.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestRepeatedFailureEndsTheJob(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     int // WithMaxRepeatedFailures; 0: default
		want    int64
		failing func(attempt int64) error
	}{
		{"default", 0, 3, func(int64) error { return errors.New("dial tcp 127.0.0.1:9: connection refused") }},
		{"five", 5, 5, func(int64) error { return errors.New("dial tcp 127.0.0.1:9: connection refused") }},
		// Numbers in the message do not make failures different.
		{"numbers differ", 0, 3, func(a int64) error { return fmt.Errorf("read offset %d: timeout", 1000+a) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var starts atomic.Int64
			opts := []stream.Option{stream.WithLogger(quietLogger()), stream.WithRestart(restart.FixedDelay(-1, time.Millisecond))}
			if tc.max != 0 {
				opts = append(opts, stream.WithMaxRepeatedFailures(tc.max))
			}
			env := stream.New("repeated", opts...)
			failingJob(env, 100, func(i int64) (int64, error) {
				if i == 10 {
					return 0, tc.failing(starts.Add(1))
				}
				return i, nil
			}, sluicetest.NewSink[int64]())
			err := sluicetest.RunErr(env, 20*time.Second)
			if !errors.Is(err, runtime.ErrRepeatedFailure) {
				t.Fatalf("err = %v, want ErrRepeatedFailure", err)
			}
			if n := starts.Load(); n != tc.want {
				t.Errorf("failed %d times, want %d", n, tc.want)
			}
			if !strings.Contains(err.Error(), "from the start (no checkpoint completed)") {
				t.Errorf("err = %v, want it to name where the failures start from", err)
			}
		})
	}
}

// Failures that differ, or that come from a newer checkpoint each time, are
// left to the restart strategy.
func TestDifferentFailuresRestart(t *testing.T) {
	var fails atomic.Int64
	env := stream.New("different", stream.WithLogger(quietLogger()), stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)))
	failingJob(env, 100, func(i int64) (int64, error) {
		if i == 10 && fails.Load() < 6 {
			n := fails.Add(1)
			return 0, fmt.Errorf("failure of kind %c", 'a'+rune(n%2))
		}
		return i, nil
	}, sluicetest.NewSink[int64]())
	if err := sluicetest.RunErr(env, 20*time.Second); err != nil {
		t.Fatalf("alternating failures ended the job: %v", err)
	}
}

// flakySink is a two-phase sink whose writers call before on each PreCommit
// and Flush; before may fail or block.
type flakySink struct {
	*sluicetest.TxSink[int64]
	preCommit func(ctx context.Context, id int64) error
}

func (s flakySink) NewWriter(wc connector.WriterContext, restored [][]byte) (connector.Writer[int64], error) {
	w, err := s.TxSink.NewWriter(wc, restored)
	if err != nil {
		return nil, err
	}
	return flakyWriter{w, s.preCommit}, nil
}

type flakyWriter struct {
	connector.Writer[int64]
	preCommit func(ctx context.Context, id int64) error
}

func (w flakyWriter) PreCommit(ctx context.Context, id int64) ([][]byte, error) {
	if err := w.preCommit(ctx, id); err != nil {
		return nil, err
	}
	return w.Writer.(connector.PreCommitter).PreCommit(ctx, id)
}

// A final checkpoint declined once is retried by the coordinator, and the
// job finishes: with unlimited tolerable failures nothing fails the job.
func TestDeclinedFinalCheckpointIsRetried(t *testing.T) {
	const n = 1000
	var ended atomic.Bool
	var failed atomic.Int64
	sink := flakySink{TxSink: sluicetest.NewTxSink[int64](), preCommit: func(_ context.Context, id int64) error {
		if ended.Load() && failed.Add(1) == 1 {
			return errors.New("pre-commit failed once")
		}
		return nil
	}}
	cfg := runtime.CheckpointConfig{Interval: 20 * time.Millisecond, TolerableFailures: -1}
	env := stream.New("final-retry", stream.WithCheckpointConfig(cfg), stream.WithLogger(quietLogger()),
		stream.WithRestart(restart.None()))
	failingJob(env, n, func(i int64) (int64, error) {
		if i == n-1 {
			ended.Store(true)
		}
		return i, nil
	}, sink)
	if err := sluicetest.RunErr(env, 20*time.Second); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if failed.Load() == 0 {
		t.Fatal("no pre-commit failed after the end of input: the test did not test the retry")
	}
	if got := len(sink.Values()); got != n {
		t.Errorf("%d values committed, want %d", got, n)
	}
}

// endless is an unbounded job: generator without end -> sink.
func endless(env *stream.Env, sink connector.Sink[int64], fn func(i int64) (int64, error)) {
	failingJob(env, -1, fn, sink)
}

func TestStopAlwaysStops(t *testing.T) {
	t.Run("final checkpoint fails", func(t *testing.T) {
		var stopping atomic.Bool
		sink := flakySink{TxSink: sluicetest.NewTxSink[int64](), preCommit: func(context.Context, int64) error {
			if stopping.Load() {
				return errors.New("topic out does not exist")
			}
			return nil
		}}
		env := stream.New("stop-fails", stream.WithCheckpointing(20*time.Millisecond, ""), stream.WithLogger(quietLogger()),
			stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)))
		endless(env, sink, func(i int64) (int64, error) { return i, nil })
		job := start(t, env)
		waitFor(t, func() bool { return sink.Commits() > 0 }, "a commit")
		stopping.Store(true)
		_, err := job.Stop(context.Background())
		if !errors.Is(err, runtime.ErrStopIncomplete) || !strings.Contains(err.Error(), "topic out does not exist") {
			t.Fatalf("Stop: %v, want ErrStopIncomplete with the cause", err)
		}
		if werr := job.Wait(); !errors.Is(werr, runtime.ErrStopIncomplete) {
			t.Fatalf("Wait: %v, want ErrStopIncomplete", werr)
		}
	})
	t.Run("final checkpoint hangs", func(t *testing.T) {
		var stopping atomic.Bool
		sink := flakySink{TxSink: sluicetest.NewTxSink[int64](), preCommit: func(ctx context.Context, _ int64) error {
			if stopping.Load() {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}}
		env := stream.New("stop-hangs", stream.WithCheckpointing(20*time.Millisecond, ""), stream.WithLogger(quietLogger()),
			stream.WithStopTimeout(200*time.Millisecond))
		endless(env, sink, func(i int64) (int64, error) { return i, nil })
		job := start(t, env)
		waitFor(t, func() bool { return sink.Commits() > 0 }, "a commit")
		stopping.Store(true)
		_, err := job.Stop(context.Background())
		if !errors.Is(err, runtime.ErrStopIncomplete) || !strings.Contains(err.Error(), "StopTimeout") {
			t.Fatalf("Stop: %v, want ErrStopIncomplete naming StopTimeout", err)
		}
		if werr := job.Wait(); !errors.Is(werr, runtime.ErrStopIncomplete) {
			t.Fatalf("Wait: %v, want ErrStopIncomplete", werr)
		}
	})
	t.Run("during restart backoff", func(t *testing.T) {
		var failures atomic.Int64
		env := stream.New("stop-backoff", stream.WithCheckpointing(20*time.Millisecond, ""), stream.WithLogger(quietLogger()),
			stream.WithRestart(restart.FixedDelay(-1, time.Hour)))
		endless(env, sluicetest.NewSink[int64](), func(i int64) (int64, error) {
			if i == 100 {
				failures.Add(1)
				return 0, errors.New("connection reset")
			}
			return i, nil
		})
		job := start(t, env)
		waitFor(t, func() bool { return failures.Load() > 0 }, "the failure")
		// The job now waits an hour to restart; a stop must not.
		done := make(chan error, 1)
		go func() { _, err := job.Stop(context.Background()); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, runtime.ErrStopIncomplete) || !strings.Contains(err.Error(), "connection reset") {
				t.Fatalf("Stop: %v, want ErrStopIncomplete naming the failure", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Stop waited for the restart delay")
		}
		if werr := job.Wait(); !errors.Is(werr, runtime.ErrStopIncomplete) {
			t.Fatalf("Wait: %v, want ErrStopIncomplete", werr)
		}
	})
	t.Run("clean", func(t *testing.T) {
		sink := sluicetest.NewTxSink[int64]()
		env := stream.New("stop-clean", stream.WithCheckpointing(20*time.Millisecond, ""), stream.WithLogger(quietLogger()))
		endless(env, sink, func(i int64) (int64, error) { return i, nil })
		job := start(t, env)
		waitFor(t, func() bool { return sink.Commits() > 0 }, "a commit")
		if _, err := job.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := job.Wait(); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	})
}

func start(t *testing.T, env *stream.Env) *runtime.Job {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	job, err := env.Start(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		job.Wait()
	})
	return job
}

func TestStartingOverIsADecision(t *testing.T) {
	dir := t.TempDir()
	sink := sluicetest.NewTxSink[int64]()
	run := func(opts ...stream.Option) (*sluicetest.TxSink[int64], error) {
		env := stream.New("decide", append([]stream.Option{stream.WithCheckpointing(10*time.Millisecond, dir), stream.WithLogger(quietLogger())}, opts...)...)
		failingJob(env, 100, func(i int64) (int64, error) { return i, nil }, sink)
		return sink, sluicetest.RunErr(env, 20*time.Second)
	}
	if _, err := run(); err != nil {
		t.Fatalf("first run: %v", err)
	}
	_, err := run()
	if !errors.Is(err, runtime.ErrCheckpointsExist) || !errors.Is(err, runtime.ErrConfig) {
		t.Fatalf("second run without a decision: %v, want ErrCheckpointsExist", err)
	}
	for _, want := range []string{dir, "--restore latest", "--fresh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := run(stream.WithFresh()); err != nil || len(sink.Values()) != 200 {
		t.Fatalf("fresh run: %v, %d values, want the 100 again", err, len(sink.Values()))
	}
	if _, err := run(stream.WithRestore("latest")); err != nil || len(sink.Values()) != 200 {
		t.Fatalf("restored run of a finished job: %v, %d values, want no more", err, len(sink.Values()))
	}
	if _, err := run(stream.WithFresh(), stream.WithRestore("latest")); !errors.Is(err, runtime.ErrConfig) {
		t.Fatalf("fresh and restore: %v, want ErrConfig", err)
	}
}

// TestCancelStopsABusyChain: a source that always has more, chained to
// operators that never block, still ends when the job is cancelled.
func TestCancelStopsABusyChain(t *testing.T) {
	var n atomic.Int64
	env := stream.New("busy", stream.WithParallelism(1), stream.WithLogger(quietLogger()))
	stream.Map(stream.Generate(env, -1, func(i int64) int64 { return i }), func(i int64) int64 {
		n.Add(1)
		return i
	}).SinkTo("out", discard{})
	ctx, cancel := context.WithCancel(context.Background())
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return n.Load() > 10000 }, "records flowing")
	cancel()
	select {
	case <-job.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the job did not end within 20s of its cancel")
	}
}

type discard struct{}

func (discard) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "drops everything"}
}
func (discard) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[int64], error) {
	return discard{}, nil
}
func (discard) Write(context.Context, int64, int64) error { return nil }
func (discard) Flush(context.Context) error               { return nil }
func (discard) Close() error                              { return nil }
