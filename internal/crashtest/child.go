package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/sluicehq/sluice/internal/streamhook"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/stream"
)

// Environment variables through which the parent process (Run) tells a
// child process what to do. A process is a child exactly when envJob is set.
const (
	envJob         = "SLUICE_CRASHTEST_JOB"         // name of the registered job
	envRun         = "SLUICE_CRASHTEST_RUN"         // index of this run, 0 first
	envDir         = "SLUICE_CRASHTEST_DIR"         // the job's data directory
	envCheckpoints = "SLUICE_CRASHTEST_CHECKPOINTS" // file:// location of checkpoints
	envEvents      = "SLUICE_CRASHTEST_EVENTS"      // file the child appends its events to
	envParams      = "SLUICE_CRASHTEST_PARAMS"      // JSON object of string parameters
	envKillAt      = "SLUICE_CRASHTEST_KILL_AT"     // kill at the n-th completed checkpoint (0: never)
	envKillFinal   = "SLUICE_CRASHTEST_KILL_FINAL"  // "1": kill when the final checkpoint completes
	envFinish      = "SLUICE_CRASHTEST_FINISH"      // "1" in a run meant to reach the end
	envRunSeed     = "SLUICE_CRASHTEST_RUN_SEED"    // seed for the job's own randomness
	envDeadline    = "SLUICE_CRASHTEST_DEADLINE"    // RFC 3339 time at which the child gives up
)

// JobFunc builds a job, runs it to its end and returns its result. It runs in
// a child process; env says where the job keeps its checkpoints and data and
// supplies the options that make the job restorable and killable. A nil
// result means the job finished (the process then exits 0); the job must
// finish only when all its input is processed and committed.
type JobFunc func(ctx context.Context, env *ChildEnv) error

var (
	regMu     sync.Mutex
	registry  = map[string]JobFunc{}
	mainInUse bool // Main was called in this process
)

// Register makes a job available to child processes under name. Call it from
// an init function (or a package-level variable initializer) of the test
// package, so that it is registered in the parent and in every child before
// Main runs. It panics if name is empty or already registered.
func Register(name string, fn JobFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	if name == "" || fn == nil {
		panic("crashtest.Register: empty name or nil job")
	}
	if _, ok := registry[name]; ok {
		panic(fmt.Sprintf("crashtest.Register: job %q registered twice", name))
	}
	registry[name] = fn
}

func lookup(name string) (JobFunc, bool) {
	regMu.Lock()
	defer regMu.Unlock()
	fn, ok := registry[name]
	return fn, ok
}

func registered() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Main is the TestMain of a package with torture tests:
//
//	func TestMain(m *testing.M) { crashtest.Main(m) }
//
// In a child process started by Run it runs the registered job named by the
// environment and exits: 0 if the job returned nil, 1 if it returned an error
// (SIGKILL ends it earlier in most runs). Otherwise it runs the tests with
// m.Run and exits with their status.
func Main(m *testing.M) {
	if name := os.Getenv(envJob); name != "" {
		os.Exit(childMain(name))
	}
	regMu.Lock()
	mainInUse = true
	regMu.Unlock()
	os.Exit(m.Run())
}

// IsChild reports whether this process is a child started by Run.
func IsChild() bool { return os.Getenv(envJob) != "" }

// ChildEnv is what a job running in a child process gets from the harness.
type ChildEnv struct {
	// Job is the registered name of the job.
	Job string
	// Run is the index of this run: 0 for the first start, then one more
	// for every restart.
	Run int
	// Finish is true in a run that should reach the end of the input: the
	// last run, which the harness lets finish, and the kill-at-end run (see
	// Config.NoKillAtEnd). The job may go at full speed in such a run (lift
	// the rate limit that keeps the other runs from finishing it), as long
	// as its output does not depend on the speed.
	Finish bool
	// Dir is the job's data directory, the same for every run and empty at
	// the first: the place for the job's external output (a sink's target
	// directory, a file source's input, a server's data).
	Dir string
	// Checkpoints is the file:// location of the job's checkpoint
	// directory, the same for every run. Options and Configure use it.
	Checkpoints string
	// Params are the parent's Config.Params.
	Params map[string]string
	// Seed seeds whatever randomness the job has of its own; it differs
	// between runs and follows from the harness's seed.
	Seed uint64
	// Logger writes to the child's log file (its standard error), which
	// Run shows when something fails.
	Logger *slog.Logger

	killAt    int  // kill at the killAt-th completed checkpoint of this run
	killFinal bool // kill when the final checkpoint completes
	ev        *eventLog
	jobEv     chan runtime.JobEvent

	mu        sync.Mutex
	completed int
}

// Param returns the parameter name, or "" if the parent did not set it.
func (e *ChildEnv) Param(name string) string { return e.Params[name] }

// Int returns the parameter name as an integer, or def if it is not set. It
// panics if the parameter is not an integer (a mistake in the test; the
// panic shows in the child's log).
func (e *ChildEnv) Int(name string, def int64) int64 {
	s, ok := e.Params[name]
	if !ok || s == "" {
		return def
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("crashtest: parameter %s=%q is not an integer", name, s))
	}
	return v
}

// Options returns the stream options a torture job needs, to be passed to
// stream.New (before options that override them, if any): checkpoints every
// interval into Checkpoints, restore from the latest complete checkpoint
// (fresh on the first run), no in-process restarts (a failure other than the
// harness's kills fails the run and the test), the kill hook, the job event
// recorder, and Logger.
func (e *ChildEnv) Options(interval time.Duration) []stream.Option {
	return []stream.Option{
		stream.WithCheckpointing(interval, e.Checkpoints),
		stream.WithRestore("latest"),
		stream.WithRestart(restart.None()),
		func(env *stream.Env) { streamhook.SetHooks(env, e.Hooks()) },
		stream.WithEvents(e.Events()),
		stream.WithLogger(e.Logger),
	}
}

// Configure does for a runtime.Config what Options does for a stream job,
// except for the checkpoint interval, which the caller sets.
func (e *ChildEnv) Configure(cfg *runtime.Config) {
	cfg.Checkpoint.Storage = e.Checkpoints
	cfg.Restore = "latest"
	cfg.Restart = restart.None()
	cfg.Hooks = e.Hooks()
	cfg.Events = e.Events()
	cfg.Logger = e.Logger
}

// Hooks returns the runtime hooks of the harness: CheckpointCompleted
// records every completed checkpoint and, at the completion the parent chose
// for this run (if it chose to kill in the hook), SIGKILLs the process: after
// the checkpoint's metadata is durable and before any task learns that the
// checkpoint completed, so before two-phase sinks commit. A job that needs a
// hook of its own calls this one from it.
func (e *ChildEnv) Hooks() runtime.Hooks {
	return runtime.Hooks{CheckpointCompleted: e.checkpointCompleted}
}

// Events returns the channel for runtime job events (restores, aborted
// checkpoints), which the harness records for the parent. Give it to exactly
// one job.
func (e *ChildEnv) Events() chan<- runtime.JobEvent { return e.jobEv }

func (e *ChildEnv) checkpointCompleted(id int64, kind runtime.CheckpointKind) {
	// Record what the runtime reported before this point (the restore, in
	// particular) ahead of the completion, so that the parent sees them in
	// order even if the process dies now.
	e.drainEvents()
	e.mu.Lock()
	e.completed++
	n := e.completed
	e.mu.Unlock()
	e.ev.write(evCompleted, strconv.FormatInt(id, 10))
	if (e.killAt > 0 && n == e.killAt) || (e.killFinal && kind == runtime.KindFinal) {
		e.ev.write(evHookKill, strconv.FormatInt(id, 10)+" "+kind.String())
		e.Logger.Warn("crashtest: killing the process in the checkpoint-completed hook", "checkpoint", id, "kind", kind, "completion", n)
		selfKill()
	}
}

// drainEvents records the job events received so far. It never blocks on
// the channel.
func (e *ChildEnv) drainEvents() {
	e.ev.mu.Lock()
	defer e.ev.mu.Unlock()
	for {
		select {
		case ev := <-e.jobEv:
			switch ev.Kind {
			case "restored":
				e.ev.writeLocked(evRestored, fmt.Sprintf("%d %d %s", ev.CheckpointID, ev.KeyedDeltas, ev.Path))
			case "checkpoint-aborted":
				e.ev.writeLocked(evAborted, strconv.FormatInt(ev.CheckpointID, 10))
			case "restarting":
				e.ev.writeLocked(evRestarting, fmt.Sprint(ev.Err))
			}
		default:
			return
		}
	}
}

// childMain runs the job name in this (child) process and returns the exit
// status.
func childMain(name string) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "crashtest child: "+format+"\n", args...)
		return 3
	}
	fn, ok := lookup(name)
	if !ok {
		return fail("job %q is not registered (registered: %v); call crashtest.Register in an init function of the test package", name, registered())
	}
	ev, err := openEventLog(os.Getenv(envEvents))
	if err != nil {
		return fail("%v", err)
	}
	defer ev.close()
	env := &ChildEnv{
		Job:         name,
		Dir:         os.Getenv(envDir),
		Checkpoints: os.Getenv(envCheckpoints),
		Params:      map[string]string{},
		Logger:      logger.With("crashtest-run", os.Getenv(envRun)),
		ev:          ev,
		jobEv:       make(chan runtime.JobEvent, 4096),
	}
	if env.Run, err = strconv.Atoi(os.Getenv(envRun)); err != nil {
		return fail("bad %s: %v", envRun, err)
	}
	env.Finish = os.Getenv(envFinish) == "1"
	env.killFinal = os.Getenv(envKillFinal) == "1"
	if env.killAt, err = strconv.Atoi(os.Getenv(envKillAt)); err != nil {
		return fail("bad %s: %v", envKillAt, err)
	}
	if env.Seed, err = strconv.ParseUint(os.Getenv(envRunSeed), 10, 64); err != nil {
		return fail("bad %s: %v", envRunSeed, err)
	}
	if p := os.Getenv(envParams); p != "" {
		if err := json.Unmarshal([]byte(p), &env.Params); err != nil {
			return fail("bad %s: %v", envParams, err)
		}
	}
	if env.Dir == "" || env.Checkpoints == "" || !filepath.IsAbs(env.Dir) {
		return fail("%s and %s must be set, %s absolute", envDir, envCheckpoints, envDir)
	}
	ctx := context.Background()
	if d := os.Getenv(envDeadline); d != "" {
		t, err := time.Parse(time.RFC3339Nano, d)
		if err != nil {
			return fail("bad %s: %v", envDeadline, err)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, t)
		defer cancel()
	}
	ev.write(evStart, strconv.Itoa(os.Getpid()))
	env.Logger.Info("crashtest: starting job", "job", name, "run", env.Run, "finish", env.Finish, "kill-at-completion", env.killAt)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				env.drainEvents()
			case <-stop:
				return
			}
		}
	})
	err = fn(ctx, env)
	close(stop)
	wg.Wait()
	env.drainEvents()
	if err != nil {
		ev.write(evError, oneLine(err.Error()))
		fmt.Fprintf(os.Stderr, "crashtest child: job %q failed: %v\n", name, err)
		return 1
	}
	ev.write(evDone, "")
	env.Logger.Info("crashtest: job finished", "job", name)
	return 0
}
