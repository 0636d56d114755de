package stream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
)

// Env is a job under construction and its configuration.
type Env struct {
	g   *graph.Graph
	cfg runtime.Config
}

// Option configures an Env.
type Option func(*Env)

// New returns an environment for a job called name.
func New(name string, opts ...Option) *Env {
	e := &Env{g: &graph.Graph{Name: name}}
	for _, o := range opts {
		o(e)
	}
	return e
}

// WithParallelism sets the default parallelism of operators (default 1).
func WithParallelism(n int) Option { return func(e *Env) { e.g.Parallelism = n } }

// WithMaxParallelism sets the number of key groups (default 128). Keyed
// state is checkpointed by key group, so this bounds the parallelism a job
// can be rescaled to and must not change between a checkpoint and its
// restore.
func WithMaxParallelism(n int) Option { return func(e *Env) { e.g.MaxParallelism = n } }

// WithCheckpointing turns on checkpoints every interval, stored at the
// location storage (a path, file://, s3://...; "" keeps them in memory,
// which survives in-process restarts only).
func WithCheckpointing(interval time.Duration, storage string) Option {
	return func(e *Env) {
		e.cfg.Checkpoint.Interval = interval
		e.cfg.Checkpoint.Storage = storage
	}
}

// WithIncrementalCheckpoints makes checkpoints write only the keyed state
// changed since the previous one (runtime.CheckpointConfig.Incremental).
func WithIncrementalCheckpoints() Option {
	return func(e *Env) { e.cfg.Checkpoint.Incremental = true }
}

// WithCheckpointConfig sets every checkpoint setting.
func WithCheckpointConfig(c runtime.CheckpointConfig) Option {
	return func(e *Env) { e.cfg.Checkpoint = c }
}

// WithRestart sets the restart strategy (default: none without
// checkpoints, runtime.DefaultRestart with them).
func WithRestart(s restart.Strategy) Option { return func(e *Env) { e.cfg.Restart = s } }

// WithRestore starts the job from "latest" (the newest complete checkpoint
// in the checkpoint storage, or fresh when there is none) or from the path
// of a checkpoint or savepoint.
func WithRestore(from string) Option { return func(e *Env) { e.cfg.Restore = from } }

// WithAllowNonRestoredState lets a restore drop state of operators the job
// no longer has.
func WithAllowNonRestoredState() Option {
	return func(e *Env) { e.cfg.AllowNonRestoredState = true }
}

// WithLogger sets the job's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(e *Env) { e.cfg.Logger = l } }

// WithClock sets the processing-time clock (tests: sluicetest.ManualClock).
func WithClock(c runtime.Clock) Option { return func(e *Env) { e.cfg.Clock = c } }

// WithBatchSize sets records per network batch (default 512).
func WithBatchSize(n int) Option { return func(e *Env) { e.cfg.BatchSize = n } }

// WithBufferTimeout bounds how long a record may wait in a partly filled
// network batch while its task is busy (default 5ms).
func WithBufferTimeout(d time.Duration) Option { return func(e *Env) { e.cfg.BufferTimeout = d } }

// WithoutChaining runs every operator in its own goroutine (for debugging
// and measurement).
func WithoutChaining() Option { return func(e *Env) { e.g.DisableChaining = true } }

// WithEvents receives job events (checkpoints, restarts).
func WithEvents(ch chan<- runtime.JobEvent) Option { return func(e *Env) { e.cfg.Events = ch } }

// WithHooks installs test hooks into the checkpoint protocol (crash tests).
func WithHooks(h runtime.Hooks) Option { return func(e *Env) { e.cfg.Hooks = h } }

// Config returns the runtime configuration (a copy).
func (e *Env) Config() runtime.Config { return e.cfg }

// Graph returns the logical graph built so far.
func (e *Env) Graph() *graph.Graph { return e.g }

// Plan compiles the job into its physical plan.
func (e *Env) Plan() (*runtime.Plan, error) { return e.g.Compile() }

// Execute runs the job until it finishes, fails, or ctx is cancelled.
func (e *Env) Execute(ctx context.Context) error {
	j, err := e.Start(ctx)
	if err != nil {
		return err
	}
	return j.Wait()
}

// Guarantee is the job's end-to-end delivery guarantee for its current
// configuration, with the weakest link named.
func (e *Env) Guarantee() graph.GuaranteeReport {
	return e.g.Guarantee(e.cfg.Checkpoint.Interval > 0, e.cfg.Checkpoint.Mode)
}

// Start starts the job and returns at once. It logs the job's end-to-end
// guarantee first, with a warning for every connector whose promise the
// configuration weakens.
func (e *Env) Start(ctx context.Context) (*runtime.Job, error) {
	plan, err := e.g.Compile()
	if err != nil {
		return nil, fmt.Errorf("job %q: %w", e.g.Name, err)
	}
	logger := e.cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	rep := e.Guarantee()
	var weakest []string
	for _, l := range rep.Weakest {
		weakest = append(weakest, fmt.Sprintf("%s %q: %s", l.Role, l.Name, l.Declaration.Reason))
	}
	logger.Info("starting job", "job", e.g.Name, "guarantee", rep.Guarantee.String(), "weakest", weakest)
	for _, d := range rep.Downgrades {
		logger.Warn("guarantee downgraded", "job", e.g.Name, "detail", d)
	}
	return runtime.Start(ctx, plan, e.cfg)
}
