package connectortest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// Sink is a sink connector under test, in one configuration. Its input
// is the records Record(0..n-1), from an exactly-once generator.
type Sink[T any] struct {
	// Name names the case, unique within the test binary.
	Name string
	// Prepare readies the external system for one check's output under
	// names derived from id (unique per check) and returns what New and
	// Read need.
	Prepare func(t testing.TB, id string) Params
	// New builds the sink: in the test process, or in a child process of
	// the SIGKILL check.
	New func(p Params) (connector.Sink[T], error)
	// Record returns input record i; it must be deterministic.
	Record func(i int) T
	// Read returns the output the check's job left in the external
	// system, as lines.
	Read func(t testing.TB, p Params) []string
	// Expect returns the lines Read gives when the records 0..n-1 each
	// took effect exactly once (default: strconv.Itoa(i) for every i).
	// An at-least-once sink may repeat a record: Read must then give
	// repeated lines, never lines Expect does not give (read a counter's
	// increments as a list, not as a sum).
	Expect func(n int) []string
	// Parallelism is the parallelism of the checks' jobs (default 2).
	Parallelism int
}

// RegisterSink registers the case's job for the SIGKILL check. Call it
// from an init function of the test package.
func RegisterSink[T any](s Sink[T]) {
	register("sink", s.Name, func(ctx context.Context, e *crashtest.ChildEnv) error {
		return s.defaults().child(ctx, e)
	})
}

func (s Sink[T]) defaults() Sink[T] {
	if s.Parallelism <= 0 {
		s.Parallelism = 2
	}
	if s.Expect == nil {
		s.Expect = numbers
	}
	return s
}

// sinkJob is one job of a sink check.
type sinkJob struct {
	p      Params
	n      int
	limit  *limiter
	failer *sluicetest.Failer
	seen   *atomic.Int64 // records that passed the rate limit
}

// build adds the job: generator -> rate limit, failures -> the sink.
func (s Sink[T]) build(se *stream.Env, j sinkJob) error {
	snk, err := s.New(j.p)
	if err != nil {
		return fmt.Errorf("the case's New: %w", err)
	}
	gen := stream.FromSource(se, "generator", collection.Generate(int64(j.n), func(i int64) T { return s.Record(int(i)) }), eventtime.NoWatermarks[T]()).UID("generator")
	in := stream.TryMap(gen, func(v T) (T, error) {
		j.limit.wait()
		if j.failer != nil {
			if err := j.failer.Check(); err != nil {
				return v, err
			}
		}
		if j.seen != nil {
			j.seen.Add(1)
		}
		return v, nil
	}).Name("pace").UID("pace")
	in.SinkTo("sink", snk).UID("sink")
	return nil
}

// TestSink runs the conformance checks of a sink case as subtests (see
// the package documentation). The case must be registered (RegisterSink).
func TestSink[T any](t *testing.T, s Sink[T]) {
	requireRegistered(t, "sink", s.Name)
	s = s.defaults()
	var g connector.Guarantee
	t.Run("declares", func(t *testing.T) {
		snk, err := s.New(s.Prepare(t, caseID(s.Name, "declares")))
		if err != nil {
			t.Fatal(err)
		}
		with, _ := declared(t, "sink", snk)
		g = with.Guarantee
		t.Logf("declares %v with checkpoints: %s", with.Guarantee, with.Reason)
	})
	if g == connector.NoGuarantee {
		return
	}
	t.Run("all", func(t *testing.T) { s.checkAll(t, true) })
	t.Run("all-without-checkpoints", func(t *testing.T) { s.checkAll(t, false) })
	if g >= connector.AtLeastOnce {
		t.Run("failures", func(t *testing.T) { s.checkFailures(t, g) })
	}
	t.Run("stop", func(t *testing.T) { s.checkStop(t, g) })
	if g >= connector.AtLeastOnce {
		t.Run("rescale", func(t *testing.T) { s.checkRescale(t, g) })
		t.Run("sigkill", func(t *testing.T) { s.checkKill(t, g) })
	}
}

func (s Sink[T]) runSink(t testing.TB, e *env, j sinkJob, p int, restore string, restarts, checkpoints bool, u until) (string, error) {
	opts := e.options(p, restore, restarts)
	if !checkpoints {
		opts = []stream.Option{stream.WithParallelism(p), stream.WithLogger(e.logger())}
	}
	se := stream.New("conformance-"+s.Name, opts...)
	if err := s.build(se, j); err != nil {
		t.Fatal(err)
	}
	return run(context.Background(), se, u)
}

func (s Sink[T]) verify(t testing.TB, p Params, n int, g connector.Guarantee, what string) {
	t.Helper()
	if err := check(s.Read(t, p), s.Expect(n), g); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (s Sink[T]) checkAll(t *testing.T, checkpoints bool) {
	e := newEnv(t)
	j := sinkJob{p: s.Prepare(t, caseID(s.Name, "all")), n: checkRecords}
	if _, err := s.runSink(t, e, j, s.Parallelism, "", false, checkpoints, until{}); err != nil {
		t.Fatalf("the job failed: %v", err)
	}
	s.verify(t, j.p, j.n, connector.ExactlyOnce, fmt.Sprintf("a run without failures (checkpoints: %v)", checkpoints))
}

func (s Sink[T]) checkFailures(t *testing.T, g connector.Guarantee) {
	e := newEnv(t)
	seed := rand.Uint64()
	f := sluicetest.RandomFailer(rand.New(rand.NewPCG(seed, 2)), 3, checkRecords)
	j := sinkJob{p: s.Prepare(t, caseID(s.Name, "failures")), n: checkRecords, limit: newLimiter(checkRate), failer: f}
	if _, err := s.runSink(t, e, j, s.Parallelism, "", true, true, until{}); err != nil {
		t.Fatalf("the job failed (failure seed %d): %v", seed, err)
	}
	s.verify(t, j.p, j.n, g, fmt.Sprintf("after %d injected failures (seed %d)", f.Failures(), seed))
}

func (s Sink[T]) checkStop(t *testing.T, g connector.Guarantee) {
	e := newEnv(t)
	var seen atomic.Int64
	j := sinkJob{p: s.Prepare(t, caseID(s.Name, "stop")), n: checkRecords, limit: newLimiter(checkRate / 4), seen: &seen}
	path, err := s.runSink(t, e, j, s.Parallelism, "", false, true, until{stopAt: func() bool { return seen.Load() >= checkRecords/10 }})
	if err != nil {
		t.Fatalf("the stopped job: %v", err)
	}
	if path == "" {
		t.Fatal("the stop returned no final checkpoint")
	}
	j.limit = nil
	p := max(1, s.Parallelism-1)
	if _, err := s.runSink(t, e, j, p, path, false, true, until{}); err != nil {
		t.Fatalf("the job restored from the stop's checkpoint at parallelism %d: %v", p, err)
	}
	s.verify(t, j.p, j.n, g, fmt.Sprintf("stopped, then restored at parallelism %d", p))
}

func (s Sink[T]) checkRescale(t *testing.T, g connector.Guarantee) {
	e := newEnv(t)
	var seen atomic.Int64
	j := sinkJob{p: s.Prepare(t, caseID(s.Name, "rescale")), n: checkRecords, limit: newLimiter(checkRate), seen: &seen}
	// Cancel once a few checkpoints have completed over part of the input.
	if _, err := s.runSink(t, e, j, s.Parallelism, "", false, true, until{cancelAt: func() bool { return seen.Load() >= checkRecords/3 }}); err != nil {
		t.Fatalf("the first job: %v", err)
	}
	j.limit = nil
	p := s.Parallelism + 1
	if _, err := s.runSink(t, e, j, p, "latest", false, true, until{}); err != nil {
		t.Fatalf("the job restored at parallelism %d: %v", p, err)
	}
	s.verify(t, j.p, j.n, g, fmt.Sprintf("cancelled at parallelism %d, restored at %d", s.Parallelism, p))
}

func (s Sink[T]) checkKill(t *testing.T, g connector.Guarantee) {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "connectortest-sink-" + s.Name, Kills: 4,
		MinUptime: 500 * time.Millisecond, MaxUptime: 2 * time.Second})
	// Twice what the kills need: on a busy machine a slow checkpoint
	// holds up the hook kills, and the job must outlive them.
	n := int(2 * cfg.JobDuration().Seconds() * tortureRate)
	p := s.Prepare(t, caseID(s.Name, "sigkill"))
	cfg.Params = map[string]string{"n": strconv.Itoa(n)}
	encodeParams(p, cfg.Params)
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	s.verify(t, p, n, g, fmt.Sprintf("after %d SIGKILLs", res.Kills))
}

// child runs the SIGKILL check's job in a child process, rate-limited
// unless the run is to finish.
func (s Sink[T]) child(ctx context.Context, e *crashtest.ChildEnv) error {
	j := sinkJob{p: decodeParams(e.Params), n: int(e.Int("n", 0))}
	if !e.Finish {
		j.limit = newLimiter(tortureRate)
	}
	se := stream.New("conformance-"+s.Name, append(e.Options(interval), stream.WithParallelism(s.Parallelism))...)
	if err := s.build(se, j); err != nil {
		return err
	}
	return se.Execute(ctx)
}
