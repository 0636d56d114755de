package stream

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/internal/streamhook"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
)

// Env is a job under construction and its configuration.
type Env struct {
	g   *graph.Graph
	cfg runtime.Config
	// invalid are the settings refused so far (options and operator
	// settings cannot return errors): Validate, Start and Execute report them.
	invalid []invalidSetting
	// checkpointsBy names the option that set the checkpoint interval and
	// storage, so that a second one is a conflict rather than an override
	// that depends on the order of the options.
	checkpointsBy string
	// incremental is set by WithIncrementalCheckpoints, applied after every
	// option so that it does not depend on their order.
	incremental bool
}

// Option configures an Env. An option given an invalid value (a
// parallelism below 1, say) leaves the setting alone and makes Validate,
// Start and Execute return an error naming it.
type Option func(*Env)

// New returns an environment for a job called name.
func New(name string, opts ...Option) *Env {
	e := &Env{g: &graph.Graph{Name: name}}
	for _, o := range opts {
		o(e)
	}
	if e.incremental {
		e.cfg.Checkpoint.Incremental = true
	}
	return e
}

// WithParallelism sets the default parallelism of operators (default 1);
// n must be at least 1.
func WithParallelism(n int) Option {
	return func(e *Env) {
		if e.checkParallelism(nil, fmt.Sprintf("stream.WithParallelism(%d)", n), n) {
			e.g.Parallelism = n
		}
	}
}

// WithMaxParallelism sets the number of key groups (default 128), from 1 to
// state.MaxMaxParallelism. Keyed state is checkpointed by key group, so
// this bounds the parallelism a job can be rescaled to and must not change
// between a checkpoint and its restore.
func WithMaxParallelism(n int) Option {
	return func(e *Env) {
		if e.checkMaxParallelism(nil, fmt.Sprintf("stream.WithMaxParallelism(%d)", n), n) {
			e.g.MaxParallelism = n
		}
	}
}

// WithCheckpointing turns on checkpoints every interval (positive), stored
// at the location storage (a path, file://, s3://...; "" keeps them in
// memory, which survives in-process restarts only).
func WithCheckpointing(interval time.Duration, storage string) Option {
	return func(e *Env) {
		if interval <= 0 {
			e.refuse(nil, fmt.Sprintf("stream.WithCheckpointing(%v, %q)", interval, storage),
				"the interval must be positive; leave the option out for a job without checkpoints")
			return
		}
		if !e.setCheckpoints(fmt.Sprintf("stream.WithCheckpointing(%v, %q)", interval, storage)) {
			return
		}
		e.cfg.Checkpoint.Interval = interval
		e.cfg.Checkpoint.Storage = storage
	}
}

// WithIncrementalCheckpoints makes checkpoints write only the keyed state
// changed since the previous one (runtime.CheckpointConfig.Incremental).
func WithIncrementalCheckpoints() Option {
	return func(e *Env) { e.incremental = true }
}

// WithCheckpointConfig sets every checkpoint setting.
func WithCheckpointConfig(c runtime.CheckpointConfig) Option {
	return func(e *Env) {
		if e.setCheckpoints("stream.WithCheckpointConfig(...)") {
			e.cfg.Checkpoint = c
		}
	}
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

// WithBatchSize sets records per network batch (default 512); n must be
// at least 1.
func WithBatchSize(n int) Option {
	return func(e *Env) {
		if n < 1 {
			e.refuse(nil, fmt.Sprintf("stream.WithBatchSize(%d)", n), "the batch size must be at least 1")
			return
		}
		e.cfg.BatchSize = n
	}
}

// WithBufferTimeout bounds how long a record may wait in a partly filled
// network batch while its task is busy (default 5ms); d must be positive.
func WithBufferTimeout(d time.Duration) Option {
	return func(e *Env) {
		if d <= 0 {
			e.refuse(nil, fmt.Sprintf("stream.WithBufferTimeout(%v)", d), "the buffer timeout must be positive")
			return
		}
		e.cfg.BufferTimeout = d
	}
}

// WithoutChaining runs every operator in its own goroutine (for debugging
// and measurement).
func WithoutChaining() Option { return func(e *Env) { e.g.DisableChaining = true } }

// WithEvents receives job events (checkpoints, restarts).
func WithEvents(ch chan<- runtime.JobEvent) Option { return func(e *Env) { e.cfg.Events = ch } }

// Config returns the runtime configuration (a copy).
func (e *Env) Config() runtime.Config { return e.cfg }

// Validate checks the job's settings and graph as Execute would,
// without running anything: it returns Execute's errors for an invalid
// setting or a job without a sink.
func (e *Env) Validate() error {
	_, err := e.compile()
	return err
}

// Describe returns the job's physical plan as text (what `sluice plan`
// shows): every operator chain with its parallelism and inputs. Its
// errors are Validate's.
func (e *Env) Describe() (string, error) {
	p, err := e.compile()
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

func init() {
	streamhook.Plan = func(env any) (*runtime.Plan, error) { return env.(*Env).compile() }
	streamhook.Graph = func(env any) *graph.Graph { return env.(*Env).g }
	streamhook.SetHooks = func(env any, h runtime.Hooks) { env.(*Env).cfg.Hooks = h }
}

// compile checks the settings and the graph and compiles the graph. Its
// errors wrap runtime.ErrConfig.
func (e *Env) compile() (*runtime.Plan, error) {
	if err := e.settingsErr(); err != nil {
		return nil, err
	}
	if len(e.g.Nodes) > 0 && !slices.ContainsFunc(e.g.Nodes, func(n *graph.Node) bool { return n.Kind == graph.KindSink }) {
		return nil, fmt.Errorf("job %q: %w: the job has no sink, so it would compute nothing anyone sees: end a stream with SinkTo or Print", e.g.Name, runtime.ErrConfig)
	}
	plan, err := e.g.Compile()
	if err != nil {
		return nil, fmt.Errorf("job %q: %w: %w", e.g.Name, runtime.ErrConfig, err)
	}
	return plan, nil
}

// Execute runs the job until it finishes, fails, or ctx is cancelled. It
// returns an error wrapping runtime.ErrConfig, without running anything,
// when a setting was invalid (every such setting is named) or the job has
// no sink.
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
// configuration weakens. Its errors are those of Execute.
func (e *Env) Start(ctx context.Context) (*runtime.Job, error) {
	plan, err := e.compile()
	if err != nil {
		return nil, err
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

// setCheckpoints records that option sets the checkpoint configuration; it
// refuses (and returns false) when another option already did, as the
// result would depend on their order.
func (e *Env) setCheckpoints(option string) bool {
	if e.checkpointsBy != "" {
		e.refuse(nil, option, "conflicts with "+e.checkpointsBy+", which also sets the checkpoint interval and storage: use one of them")
		return false
	}
	e.checkpointsBy = option
	return true
}
