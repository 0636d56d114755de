package connectortest

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/internal/streamhook"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// Source is a source connector under test, in one configuration. The
// records it reads are numbered 0..n-1.
type Source[T any] struct {
	// Name names the case, unique within the test binary (it names the
	// SIGKILL check's job).
	Name string
	// Prepare runs in the test process before each check: it readies the
	// external system with the records 0..n-1 (in any order and split)
	// under names derived from id, which is unique per check (queue, topic
	// or stream names), and returns what New needs.
	Prepare func(t testing.TB, id string, n int) Params
	// New builds the source: in the test process, or in a child process
	// of the SIGKILL check.
	New func(p Params) (connector.Source[T], error)
	// Number returns the number i that Prepare wrote the record as.
	Number func(v T) (int, error)
	// Parallelism is the parallelism of the checks' jobs (default 2).
	Parallelism int
	// Deduplicate (optional) is the id of a record for a source that is
	// exactly-once by deduplication: the checks' jobs route the source's
	// records through stream.Deduplicate by it, within DedupeHorizon
	// (default 10 minutes), before numbering them.
	Deduplicate   func(v T) string
	DedupeHorizon time.Duration
	// FixedParallelism (optional) says why the source cannot be restored
	// at another parallelism; the rescale check is then skipped, and the
	// stop check restores at the same parallelism.
	FixedParallelism string

	// PrepareBad (optional) is Prepare plus records the source cannot
	// decode, which it reports with ReaderOutput.Reject; it returns the
	// parameters and the number of bad records.
	PrepareBad func(t testing.TB, id string, n int) (Params, int)
	// Unacked (optional) returns how many of the prepared records the
	// external system holds as delivered to the source and not yet
	// acknowledged (or committed). It is called from the job's
	// coordinating goroutine: report problems with t.Error, not t.Fatal.
	Unacked func(t testing.TB, p Params) int
}

var (
	regMu      sync.Mutex
	registered = map[string]bool{}
)

func register(kind, name string, job crashtest.JobFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	if name == "" {
		panic("connectortest: a case needs a Name")
	}
	crashtest.Register("connectortest-"+kind+"-"+name, job)
	registered[kind+"/"+name] = true
}

func requireRegistered(t *testing.T, kind, name string) {
	t.Helper()
	regMu.Lock()
	defer regMu.Unlock()
	if !registered[kind+"/"+name] {
		t.Fatalf("connectortest: %s case %q is not registered: call connectortest.Register%s from an init function of the test package (the SIGKILL check's child process needs it), and make TestMain call connectortest.Main",
			kind, name, map[string]string{"source": "Source", "sink": "Sink"}[kind])
	}
}

// RegisterSource registers the case's job for the SIGKILL check. Call it
// from an init function of the test package.
func RegisterSource[T any](s Source[T]) {
	register("source", s.Name, func(ctx context.Context, e *crashtest.ChildEnv) error {
		return s.defaults().child(ctx, e)
	})
}

func (s Source[T]) defaults() Source[T] {
	if s.Parallelism <= 0 {
		s.Parallelism = 2
	}
	return s
}

// sourceJob is one job of a source check.
type sourceJob struct {
	p      Params
	out    string // the TxFileSink directory
	limit  *limiter
	failer *sluicetest.Failer
	dlq    *sluicetest.Sink[connector.BadRecord]
	// emitted counts the records that reached the numbering step.
	emitted *atomic.Int64
}

// build adds the job: source -> number (rate limit, failures) -> the
// exactly-once file target, with the source's dead letters to dlq.
func (s Source[T]) build(se *stream.Env, j sourceJob) (bounded bool, err error) {
	src, err := s.New(j.p)
	if err != nil {
		return false, fmt.Errorf("the case's New: %w", err)
	}
	st := stream.FromSource(se, "source", src, eventtime.NoWatermarks[T]()).UID("source")
	if j.dlq != nil {
		stream.DeadLetters(st).SinkTo("dead letters", j.dlq).UID("dead-letters")
	}
	if s.Deduplicate != nil {
		horizon := s.DedupeHorizon
		if horizon <= 0 {
			horizon = 10 * time.Minute
		}
		st = stream.Deduplicate(st, s.Deduplicate, horizon).UID("dedupe")
	}
	lines := stream.TryMap(st, func(v T) (string, error) {
		j.limit.wait()
		if j.failer != nil {
			if err := j.failer.Check(); err != nil {
				return "", err
			}
		}
		i, err := s.Number(v)
		if err != nil {
			return "", connector.Permanent(fmt.Errorf("connectortest: Number of a record: %w", err))
		}
		if j.emitted != nil {
			j.emitted.Add(1)
		}
		return strconv.Itoa(i), nil
	}).Name("number").UID("number")
	lines.SinkTo("output", crashtest.NewTxFileSink(j.out)).UID("output")
	return src.Bounded(), nil
}

// TestSource runs the conformance checks of a source case as subtests
// (see the package documentation). The case must be registered
// (RegisterSource).
func TestSource[T any](t *testing.T, s Source[T]) {
	requireRegistered(t, "source", s.Name)
	s = s.defaults()
	var g connector.Guarantee
	t.Run("declares", func(t *testing.T) {
		src, err := s.New(s.Prepare(t, caseID(s.Name, "declares"), 1))
		if err != nil {
			t.Fatal(err)
		}
		with, _ := declared(t, "source", src)
		g = with.Guarantee
		t.Logf("declares %v with checkpoints: %s", with.Guarantee, with.Reason)
	})
	if g == connector.NoGuarantee {
		return
	}
	t.Run("all", func(t *testing.T) { s.checkAll(t) })
	if g >= connector.AtLeastOnce {
		t.Run("failures", func(t *testing.T) { s.checkFailures(t, g) })
	}
	t.Run("stop", func(t *testing.T) { s.checkStop(t, g) })
	if g >= connector.AtLeastOnce {
		if s.FixedParallelism == "" {
			t.Run("rescale", func(t *testing.T) { s.checkRescale(t, g) })
		} else {
			t.Logf("rescale: skipped: %s", s.FixedParallelism)
		}
		t.Run("sigkill", func(t *testing.T) { s.checkKill(t, g) })
	}
	if s.PrepareBad != nil {
		t.Run("bad-records", func(t *testing.T) { s.checkBad(t, g) })
	}
	if s.Unacked != nil {
		t.Run("acks", func(t *testing.T) { s.checkAcks(t) })
	}
}

// runSource runs one job of a check to its end (complete output, a stop
// or a cancel as u says; done defaults to complete output).
func (s Source[T]) runSource(t testing.TB, e *env, j sourceJob, p int, restore string, restarts bool, u until, want []string) (string, error) {
	se := stream.New("conformance-"+s.Name, e.options(p, restore, restarts)...)
	bounded, err := s.build(se, j)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case bounded:
		u.done = nil // it ends by itself
	case u.done == nil:
		u.done = committed(t, j.out, want, -1)
	}
	return run(context.Background(), se, u)
}

func (s Source[T]) output(t testing.TB, out string) []string {
	t.Helper()
	got, err := crashtest.ReadCommitted(out)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (s Source[T]) checkAll(t *testing.T) {
	e := newEnv(t)
	want := numbers(checkRecords)
	j := sourceJob{p: s.Prepare(t, caseID(s.Name, "all"), checkRecords), out: filepath.Join(e.dir, "out")}
	if _, err := s.runSource(t, e, j, s.Parallelism, "", false, until{}, want); err != nil {
		t.Fatalf("the job failed: %v", err)
	}
	if err := check(s.output(t, j.out), want, connector.ExactlyOnce); err != nil {
		t.Fatalf("a run without failures: %v", err)
	}
}

func (s Source[T]) checkFailures(t *testing.T, g connector.Guarantee) {
	e := newEnv(t)
	want := numbers(checkRecords)
	seed := rand.Uint64()
	f := sluicetest.RandomFailer(rand.New(rand.NewPCG(seed, 1)), 3, checkRecords)
	j := sourceJob{p: s.Prepare(t, caseID(s.Name, "failures"), checkRecords), out: filepath.Join(e.dir, "out"),
		limit: newLimiter(checkRate), failer: f}
	if _, err := s.runSource(t, e, j, s.Parallelism, "", true, until{}, want); err != nil {
		t.Fatalf("the job failed (failure seed %d): %v", seed, err)
	}
	if err := check(s.output(t, j.out), want, g); err != nil {
		t.Fatalf("after %d injected failures (seed %d): %v", f.Failures(), seed, err)
	}
	t.Logf("%d failures injected, %d records numbered", f.Failures(), f.Seen())
}

func (s Source[T]) checkStop(t *testing.T, g connector.Guarantee) {
	e := newEnv(t)
	want := numbers(checkRecords)
	// Slow enough that a bounded source is stopped long before its end,
	// even when checkpoints are slow on a busy machine.
	j := sourceJob{p: s.Prepare(t, caseID(s.Name, "stop"), checkRecords), out: filepath.Join(e.dir, "out"),
		limit: newLimiter(checkRate / 4)}
	path, err := s.runSource(t, e, j, s.Parallelism, "", false, until{stopAt: committed(t, j.out, want, checkRecords/10)}, want)
	if err != nil {
		t.Fatalf("the stopped job: %v", err)
	}
	if path == "" {
		t.Fatal("the stop returned no final checkpoint (the job ended before it was stopped: is the source bounded and fast?)")
	}
	j.limit = nil
	p := max(1, s.Parallelism-1)
	if s.FixedParallelism != "" {
		p = s.Parallelism
	}
	if _, err := s.runSource(t, e, j, p, path, false, until{}, want); err != nil {
		t.Fatalf("the job restored from the stop's checkpoint at parallelism %d: %v", p, err)
	}
	if err := check(s.output(t, j.out), want, g); err != nil {
		t.Fatalf("stopped, then restored at parallelism %d: %v", p, err)
	}
}

func (s Source[T]) checkRescale(t *testing.T, g connector.Guarantee) {
	e := newEnv(t)
	want := numbers(checkRecords)
	j := sourceJob{p: s.Prepare(t, caseID(s.Name, "rescale"), checkRecords), out: filepath.Join(e.dir, "out"),
		limit: newLimiter(checkRate)}
	if _, err := s.runSource(t, e, j, s.Parallelism, "", false, until{cancelAt: committed(t, j.out, want, checkRecords/3)}, want); err != nil {
		t.Fatalf("the first job: %v", err)
	}
	j.limit = nil
	p := s.Parallelism + 1
	if _, err := s.runSource(t, e, j, p, "latest", false, until{}, want); err != nil {
		t.Fatalf("the job restored at parallelism %d: %v", p, err)
	}
	if err := check(s.output(t, j.out), want, g); err != nil {
		t.Fatalf("cancelled at parallelism %d, restored at %d: %v", s.Parallelism, p, err)
	}
}

func (s Source[T]) checkBad(t *testing.T, g connector.Guarantee) {
	t.Run("dead-letters", func(t *testing.T) {
		e := newEnv(t)
		p, bad := s.PrepareBad(t, caseID(s.Name, "bad"), checkRecords)
		want := numbers(checkRecords)
		dlq := sluicetest.NewSink[connector.BadRecord]()
		j := sourceJob{p: p, out: filepath.Join(e.dir, "out"), dlq: dlq}
		all := committed(t, j.out, want, -1)
		if _, err := s.runSource(t, e, j, s.Parallelism, "", false, until{done: func() bool { return all() && dlq.Len() >= bad }}, want); err != nil {
			t.Fatalf("the job with a dead-letter output failed: %v", err)
		}
		if err := check(s.output(t, j.out), want, connector.ExactlyOnce); err != nil {
			t.Fatalf("the good records: %v", err)
		}
		if dlq.Len() != bad {
			t.Fatalf("%d records in the dead-letter output, want the %d bad ones", dlq.Len(), bad)
		}
		for _, r := range dlq.Values() {
			if r.Location == "" || r.Error == "" {
				t.Errorf("a dead letter without its location or error: %+v", r)
			}
		}
	})
	t.Run("fail", func(t *testing.T) {
		e := newEnv(t)
		p, _ := s.PrepareBad(t, caseID(s.Name, "bad-fail"), checkRecords)
		j := sourceJob{p: p, out: filepath.Join(e.dir, "out")}
		// Restarts are allowed: the failure must end the job regardless.
		_, err := s.runSource(t, e, j, s.Parallelism, "", true, until{done: func() bool { return false }}, nil)
		var bre *connector.BadRecordError
		if !errors.As(err, &bre) || !connector.IsPermanent(err) {
			t.Fatalf("the job ended with %v; want a permanent *connector.BadRecordError", err)
		}
		if bre.Record.Location == "" {
			t.Errorf("the bad record's error names no location: %v", err)
		}
	})
}

func (s Source[T]) checkAcks(t *testing.T) {
	e := newEnv(t)
	want := numbers(checkRecords)
	var emitted atomic.Int64
	j := sourceJob{p: s.Prepare(t, caseID(s.Name, "acks"), checkRecords), out: filepath.Join(e.dir, "out"),
		limit: newLimiter(checkRate), emitted: &emitted}
	var (
		mu       sync.Mutex
		prev     int64 // emitted at the previous completion
		checks   int
		problems []string
	)
	hooks := runtime.Hooks{CheckpointCompleted: func(id int64, _ runtime.CheckpointKind) {
		// Nothing emitted since the previous completion may be
		// acknowledged yet: no task was told of this completion.
		n := emitted.Load()
		u := s.Unacked(t, j.p)
		mu.Lock()
		defer mu.Unlock()
		if n > prev {
			checks++
		}
		if int64(u) < n-prev {
			problems = append(problems, fmt.Sprintf("checkpoint %d completed (not yet notified): %d records emitted since the previous completion, but only %d unacknowledged", id, n-prev, u))
		}
		prev = n
	}}
	se := stream.New("conformance-"+s.Name, e.options(s.Parallelism, "", false)...)
	streamhook.SetHooks(se, hooks)
	bounded, err := s.build(se, j)
	if err != nil {
		t.Fatal(err)
	}
	u := until{}
	if !bounded {
		u.done = committed(t, j.out, want, -1)
	}
	if _, err := run(context.Background(), se, u); err != nil {
		t.Fatalf("the job failed: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	if checks == 0 {
		t.Fatal("no checkpoint completed while records were emitted: nothing was checked")
	}
	if !waitUntil(context.Background(), 10*time.Second, func() bool { return s.Unacked(t, j.p) == 0 }) {
		t.Errorf("%d records still unacknowledged 10s after the job stopped with a final checkpoint", s.Unacked(t, j.p))
	}
}

// checkKill runs the SIGKILL torture of the case.
func (s Source[T]) checkKill(t *testing.T, g connector.Guarantee) {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "connectortest-source-" + s.Name, Kills: 4,
		MinUptime: 500 * time.Millisecond, MaxUptime: 2 * time.Second})
	// Twice what the kills need: on a busy machine a slow checkpoint
	// holds up the hook kills, and the job must outlive them.
	n := int(2 * cfg.JobDuration().Seconds() * tortureRate)
	cfg.Params = map[string]string{"n": strconv.Itoa(n)}
	encodeParams(s.Prepare(t, caseID(s.Name, "sigkill"), n), cfg.Params)
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	got := s.output(t, filepath.Join(res.Dir, "out"))
	if err := check(got, numbers(n), g); err != nil {
		t.Fatalf("after %d SIGKILLs: %v", res.Kills, err)
	}
}

// child runs the SIGKILL check's job in a child process: rate-limited
// unless the run is to finish; an unbounded source's job is stopped once
// the output holds every record.
func (s Source[T]) child(ctx context.Context, e *crashtest.ChildEnv) error {
	n := int(e.Int("n", 0))
	j := sourceJob{p: decodeParams(e.Params), out: filepath.Join(e.Dir, "out")}
	if !e.Finish {
		j.limit = newLimiter(tortureRate)
	}
	se := stream.New("conformance-"+s.Name, append(e.Options(interval), stream.WithParallelism(s.Parallelism))...)
	bounded, err := s.build(se, j)
	if err != nil {
		return err
	}
	if bounded {
		return se.Execute(ctx)
	}
	u := until{done: func() bool { return false }}
	if e.Finish {
		want := numbers(n)
		wanted := make(map[string]bool, n)
		for _, w := range want {
			wanted[w] = true
		}
		u.done = func() bool {
			lines, err := crashtest.ReadCommitted(j.out)
			if err != nil {
				return false
			}
			seen := map[string]bool{}
			for _, l := range lines {
				if wanted[l] {
					seen[l] = true
				}
			}
			return len(seen) == len(wanted)
		}
	}
	_, err = run(ctx, se, u)
	return err
}
