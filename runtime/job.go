package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/runtime/restart"
)

// Job is a running job. Create it with Start; Wait for the result.
type Job struct {
	plan    *Plan
	cfg     Config
	store   *storage.Storage
	logger  *slog.Logger
	done    chan struct{}
	err     error
	control chan controlReq
	// maxTriggered is the highest checkpoint id any attempt of this job
	// triggered: an aborted checkpoint's directory is deleted, so the
	// storage alone cannot tell that its id was used. Only the job driver
	// goroutine touches it.
	maxTriggered int64
	// counters are the record counts of every operator subtask, added to
	// by the tasks of every attempt (metrics.go).
	counters jobCounters
}

type controlReq struct {
	kind  CheckpointKind // KindSavepoint or KindFinal (stop)
	reply chan savepointResult
}

type savepointResult struct {
	path string
	err  error
}

// Run executes plan until it finishes (all bounded input processed and,
// with checkpointing, the final checkpoint complete), fails beyond what the
// restart strategy allows, or ctx is cancelled.
func Run(ctx context.Context, plan *Plan, cfg Config) error {
	j, err := Start(ctx, plan, cfg)
	if err != nil {
		return err
	}
	return j.Wait()
}

// Start starts plan and returns at once.
func Start(ctx context.Context, plan *Plan, cfg Config) (*Job, error) {
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Checkpoint.Interval > 0 {
		cc := coordinator.Config{Interval: c.Checkpoint.Interval, Timeout: c.Checkpoint.Timeout, MinPause: c.Checkpoint.MinPause,
			MaxConcurrent: c.Checkpoint.MaxConcurrent, TolerableFailures: c.Checkpoint.TolerableFailures}
		if err := cc.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	j := &Job{plan: plan, cfg: c, logger: c.Logger.With("job", plan.Name), done: make(chan struct{}), control: make(chan controlReq),
		counters: newJobCounters(plan)}
	if c.Checkpoint.Interval > 0 || c.Restore != "" || cfg.Checkpoint.Storage != "" {
		st, err := storage.Open(ctx, c.Checkpoint.Storage, storage.WithLogger(j.logger))
		if err != nil {
			return nil, fmt.Errorf("open checkpoint storage %q: %w", c.Checkpoint.Storage, err)
		}
		j.store = st
	}
	go func() {
		j.err = j.run(ctx)
		if j.store != nil {
			j.store.Close()
		}
		close(j.done)
	}()
	return j, nil
}

// Wait returns the job's result.
func (j *Job) Wait() error {
	<-j.done
	return j.err
}

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// Savepoint takes a savepoint and returns its path.
func (j *Job) Savepoint(ctx context.Context) (string, error) {
	return j.request(ctx, KindSavepoint)
}

// Stop takes a final checkpoint, lets two-phase sinks commit it, and ends
// the job; Wait then returns nil. It returns the checkpoint's path.
func (j *Job) Stop(ctx context.Context) (string, error) {
	return j.request(ctx, KindFinal)
}

func (j *Job) request(ctx context.Context, kind CheckpointKind) (string, error) {
	if j.cfg.Checkpoint.Interval <= 0 && j.store == nil {
		return "", fmt.Errorf("%w: the job has no checkpoint storage; set a checkpoint interval", ErrConfig)
	}
	req := controlReq{kind: kind, reply: make(chan savepointResult, 1)}
	select {
	case j.control <- req:
	case <-j.done:
		return "", errors.New("job has ended")
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.path, r.err
	case <-j.done:
		return "", errors.New("job ended before the checkpoint completed")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (j *Job) emit(ev JobEvent) {
	if j.cfg.Events == nil {
		return
	}
	ev.Time = time.Now()
	select {
	case j.cfg.Events <- ev:
	default:
	}
}

// run restarts attempts until one ends cleanly or the strategy gives up.
func (j *Job) run(ctx context.Context) error {
	restoreFrom := j.cfg.Restore
	for {
		att, err := j.newAttempt(ctx, restoreFrom)
		if err != nil {
			return err
		}
		err = att.run()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if restart.IsUnrecoverable(err) {
			return err
		}
		delay, ok := j.cfg.Restart.Next(time.Now(), err)
		if !ok {
			return fmt.Errorf("job %q failed (restart strategy %v gave up): %w", j.plan.Name, j.cfg.Restart, err)
		}
		j.logger.Warn("job failed, restarting", "err", err, "delay", delay, "strategy", j.cfg.Restart.String())
		j.emit(JobEvent{Kind: "restarting", Err: err})
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if j.store != nil {
			restoreFrom = "latest"
		}
	}
}

// taskEvent is a message from a task (or a task's helper goroutine) to the
// job driver.
type taskEvent struct {
	kind    taskEventKind
	vertex  int
	subtask int
	id      int64
	err     error
	ack     *subtaskState
	path    string
}

type taskEventKind uint8

const (
	evFinished taskEventKind = iota + 1
	evFailed
	evAck
	evDecline
	evSourceEnded
	evSplitRequest
	evStored
	evPeriodic
)
