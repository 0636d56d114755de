package nexmark

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/stream"
)

// DefaultBenchEvents is the number of events of a run when
// BenchOptions.Events is 0.
const DefaultBenchEvents = 10_000_000

// BenchOptions configure one benchmark run.
type BenchOptions struct {
	// Query is the query to run: q0, q1, q2, q3, q4, q5, q7, q8, q11, q12.
	Query string
	// Events is the number of events to generate (default
	// DefaultBenchEvents).
	Events int64
	// Parallelism of every operator (default 1).
	Parallelism int
	// TPS is the event-time rate in events per second. 0 spreads the
	// events over 10 s of event time (Events/10), the span of Flink's
	// published runs (100 million events at 10 million per second).
	TPS int64
	// CheckpointInterval turns checkpoints on (0: off).
	CheckpointInterval time.Duration
	// CheckpointDir is where checkpoints go; "" with checkpoints on means
	// a temporary directory, removed after the run.
	CheckpointDir string
	// Seed of the generator.
	Seed uint64
	// Logger receives the job's logs (default: discarded).
	Logger *slog.Logger
	// Started, when set, is called once the job started, before its
	// records are awaited (e.g. to serve it over HTTP: sluice bench
	// nexmark --http).
	Started func(job *runtime.Job, env *stream.Env)
}

// BenchResult is the outcome of a run. It marshals to one JSON object.
type BenchResult struct {
	Query       string `json:"query"`
	Events      int64  `json:"events"`
	Parallelism int    `json:"parallelism"`
	// Seconds is the wall-clock time of the run.
	Seconds float64 `json:"seconds"`
	// CPUSeconds is the user and system CPU time the whole process used
	// during the run (generator, job, garbage collector).
	CPUSeconds      float64 `json:"cpu_seconds"`
	EventsPerSec    float64 `json:"events_per_sec"`
	EventsPerCPUSec float64 `json:"events_per_cpu_sec"`
	// PeakRSSBytes is the peak resident set size of the process so far.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`

	// Results is the number of results the sink read, Checksum their
	// checksum (order-independent).
	Results  int64  `json:"-"`
	Checksum uint64 `json:"-"`
	// Checkpoints is the number of checkpoints that completed during the
	// run (the final one at the end of the input included).
	Checkpoints int `json:"-"`
}

// withDefaults fills in the defaults and checks the options.
func (o BenchOptions) withDefaults() (BenchOptions, error) {
	if o.Events == 0 {
		o.Events = DefaultBenchEvents
	}
	if o.Parallelism == 0 {
		o.Parallelism = 1
	}
	if o.TPS == 0 {
		o.TPS = max(o.Events/10, 1)
	}
	switch {
	case o.Events < 0:
		return o, fmt.Errorf("nexmark bench: events %d is negative", o.Events)
	case o.Parallelism < 0:
		return o, fmt.Errorf("nexmark bench: parallelism %d is negative", o.Parallelism)
	case o.TPS < 0:
		return o, fmt.Errorf("nexmark bench: TPS %d is negative", o.TPS)
	case o.CheckpointInterval < 0:
		return o, fmt.Errorf("nexmark bench: checkpoint interval %v is negative", o.CheckpointInterval)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// GeneratorConfig is the generator configuration of a run.
func (o BenchOptions) GeneratorConfig() Config {
	return Config{Seed: o.Seed, Events: o.Events, Rate: o.TPS}
}

// RunBench runs query opts.Query over opts.Events generated events, ending
// in a discarding sink that reads every field of every result, and
// reports its throughput per second and per CPU-second of the process.
func RunBench(ctx context.Context, opts BenchOptions) (BenchResult, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return BenchResult{}, err
	}
	envOpts := []stream.Option{stream.WithParallelism(opts.Parallelism), stream.WithLogger(opts.Logger)}
	if opts.CheckpointInterval > 0 {
		dir := opts.CheckpointDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "sluice-nexmark-"); err != nil {
				return BenchResult{}, fmt.Errorf("nexmark bench: checkpoint directory: %w", err)
			}
			defer os.RemoveAll(dir)
		}
		envOpts = append(envOpts, stream.WithCheckpointing(opts.CheckpointInterval, dir))
	}
	jobEvents := make(chan runtime.JobEvent, 1024)
	checkpoints := countCheckpoints(jobEvents)
	defer checkpoints()
	envOpts = append(envOpts, stream.WithEvents(jobEvents))
	env := stream.New("nexmark-"+opts.Query, envOpts...)
	events, err := Events(env, opts.GeneratorConfig())
	if err != nil {
		return BenchResult{}, err
	}
	sink, err := BuildQuery(opts.Query, events)
	if err != nil {
		return BenchResult{}, err
	}
	r, err := Measure(opts, func() (int64, uint64, error) {
		job, err := env.Start(ctx)
		if err == nil {
			if opts.Started != nil {
				opts.Started(job, env)
			}
			err = job.Wait()
		}
		if err != nil {
			return 0, 0, fmt.Errorf("nexmark %s: %w", opts.Query, err)
		}
		return sink.Count(), sink.Sum(), nil
	})
	r.Checkpoints = checkpoints()
	return r, err
}

// countCheckpoints counts the completed checkpoints reported on events
// until the returned function is called; it returns the count (and may be
// called again). The runtime never blocks on the channel (it drops events
// when it is full), and the channel is never closed.
func countCheckpoints(events <-chan runtime.JobEvent) func() int {
	var n atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	count := func(ev runtime.JobEvent) {
		if ev.Kind == "checkpoint-completed" {
			n.Add(1)
		}
	}
	go func() {
		defer close(done)
		for {
			select {
			case ev := <-events:
				count(ev)
			case <-stop:
				for {
					select {
					case ev := <-events:
						count(ev)
					default:
						return
					}
				}
			}
		}
	}()
	finish := sync.OnceFunc(func() { close(stop); <-done })
	return func() int {
		finish()
		return int(n.Load())
	}
}

// Measure runs fn, which processes opts.Events events and returns the
// number and checksum of its results, and reports its wall-clock and CPU
// time as a BenchResult. It is how RunBench and the hand-written
// baselines are measured alike.
func Measure(opts BenchOptions, fn func() (results int64, checksum uint64, err error)) (BenchResult, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return BenchResult{}, err
	}
	goruntime.GC()
	cpu0, _ := usage()
	start := time.Now()
	n, sum, err := fn()
	wall := time.Since(start)
	cpu1, rss := usage()
	if err != nil {
		return BenchResult{}, err
	}
	r := BenchResult{
		Query: opts.Query, Events: opts.Events, Parallelism: opts.Parallelism,
		Seconds: wall.Seconds(), CPUSeconds: (cpu1 - cpu0).Seconds(), PeakRSSBytes: rss,
		Results: n, Checksum: sum,
	}
	if r.Seconds > 0 {
		r.EventsPerSec = float64(r.Events) / r.Seconds
	}
	if r.CPUSeconds > 0 {
		r.EventsPerCPUSec = float64(r.Events) / r.CPUSeconds
	}
	return r, nil
}
