package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/connector"
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
	// cancel ends the job with a cause (a stop whose deadline passed).
	cancel context.CancelCauseFunc
	// stopping is set when a stop was requested: a failure then ends the
	// job instead of restarting it. Only the job driver goroutine touches
	// it.
	stopping bool
	// lastCompleted is the id of the newest checkpoint (not savepoint)
	// completed by any attempt or restored, which the next restore starts
	// from. Only the job driver goroutine touches it.
	lastCompleted int64
	// maxTriggered is the highest checkpoint id any attempt of this job
	// triggered: an aborted checkpoint's directory is deleted, so the
	// storage alone cannot tell that its id was used. Only the job driver
	// goroutine touches it.
	maxTriggered int64
	// counters are the record counts of every operator subtask, added to
	// by the tasks of every attempt (metrics.go).
	counters jobCounters
	// obs holds times, watermarks, checkpoint history and failures
	// (observe.go).
	obs *observer
}

// errJobEnded is returned by requests to a job that has ended.
var errJobEnded = errors.New("job has ended")

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
	j, err := newJob(ctx, plan, cfg)
	if err != nil {
		return nil, err
	}
	ctx, j.cancel = context.WithCancelCause(ctx)
	go func() {
		defer j.cancel(nil)
		j.err = j.run(ctx)
		if j.store != nil {
			j.store.Close()
		}
		close(j.done)
	}()
	return j, nil
}

// newJob checks plan and cfg and opens the checkpoint storage.
func newJob(ctx context.Context, plan *Plan, cfg Config) (*Job, error) {
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
		counters: newJobCounters(plan), obs: newObserver(plan)}
	if c.Checkpoint.Interval > 0 || c.Restore != "" || cfg.Checkpoint.Storage != "" {
		st, err := storage.Open(ctx, c.Checkpoint.Storage, storage.WithLogger(j.logger))
		if err != nil {
			return nil, fmt.Errorf("open checkpoint storage %q: %w", c.Checkpoint.Storage, err)
		}
		j.store = st
		if c.Restore == "" && !c.Fresh {
			if err := refuseExisting(ctx, st, plan.Name); err != nil {
				st.Close()
				return nil, err
			}
		}
	}
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
	start := time.Now()
	path, err := j.request(ctx, KindSavepoint)
	j.obs.savepoint(path, time.Since(start), err)
	return path, err
}

// Stop takes a final checkpoint, lets two-phase sinks commit it, and ends
// the job; it returns the checkpoint's path once the job ended (or its
// context is done), and Wait then returns nil.
//
// A stop always stops: if the final checkpoint fails, or it has not
// completed within Config.StopTimeout (or before ctx is done), or the job
// is waiting to restart after a failure, the job ends without it, and both
// Stop and Wait return an error wrapping ErrStopIncomplete. A job without
// checkpoint storage cannot take a final checkpoint: Stop then returns an
// error wrapping ErrConfig and leaves the job running (cancel its context
// to end it).
func (j *Job) Stop(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, j.cfg.StopTimeout)
	defer cancel()
	path, err := j.request(ctx, KindFinal)
	if err == nil {
		// The final checkpoint completed: return once the job ended (its
		// sinks committed and closed), so that nothing of it runs on.
		select {
		case <-j.done:
		case <-ctx.Done():
		}
		return path, nil
	}
	if errors.Is(err, ErrConfig) {
		return path, err
	}
	if errors.Is(err, errJobEnded) && j.err == nil {
		return "", nil // it finished, with its final checkpoint
	}
	if !errors.Is(err, ErrStopIncomplete) {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("the final checkpoint did not complete within %v (StopTimeout)", j.cfg.StopTimeout)
		}
		err = fmt.Errorf("%w: %w", ErrStopIncomplete, err)
	}
	j.cancel(err)
	<-j.done
	return "", err
}

func (j *Job) request(ctx context.Context, kind CheckpointKind) (string, error) {
	if j.cfg.Checkpoint.Interval <= 0 && j.store == nil {
		return "", fmt.Errorf("%w: the job has no checkpoint storage; set a checkpoint interval", ErrConfig)
	}
	req := controlReq{kind: kind, reply: make(chan savepointResult, 1)}
	select {
	case j.control <- req:
	case <-j.done:
		return "", errJobEnded
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.path, r.err
	case <-j.done:
		if j.err != nil {
			return "", fmt.Errorf("job ended before the checkpoint completed: %w", j.err)
		}
		// It finished by itself (bounded input) while the request was
		// under way: for a stop, that is the end asked for.
		return "", errJobEnded
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (j *Job) emit(ev JobEvent) {
	ev.Time = time.Now()
	j.obs.event(ev)
	if j.cfg.Events == nil {
		return
	}
	select {
	case j.cfg.Events <- ev:
	default:
	}
}

// run restarts attempts until one ends cleanly, fails for good, or the
// restart strategy gives up.
//
// A failure ends the job at once, without restart, when a retry cannot
// help (connector.IsPermanent), when a stop was requested, and when it is
// the same failure as the last Config.MaxRepeatedFailures-1 ones from the
// same checkpoint. The others go through the restart strategy; a stop
// request during the delay before a restart ends the job at once.
func (j *Job) run(ctx context.Context) error {
	restoreFrom := j.cfg.Restore
	var rep repeats
	for {
		err := j.runAttempt(ctx, restoreFrom)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if !j.stopping {
			j.obs.failed(err, connector.IsPermanent(err))
		}
		switch {
		case j.stopping:
			return fmt.Errorf("%w: the job failed while stopping: %w", ErrStopIncomplete, err)
		case connector.IsPermanent(err):
			return fmt.Errorf("job %q failed; not restarting, as a retry cannot help: %w", j.plan.Name, err)
		}
		if n := rep.add(j.lastCompleted, err); j.cfg.MaxRepeatedFailures > 0 && n >= j.cfg.MaxRepeatedFailures {
			from := "from the start (no checkpoint completed)"
			if j.lastCompleted > 0 {
				from = fmt.Sprintf("from checkpoint %d", j.lastCompleted)
			}
			return fmt.Errorf("job %q failed %d times in a row the same way %s (%w; MaxRepeatedFailures is %d); the last failure: %w",
				j.plan.Name, n, from, ErrRepeatedFailure, j.cfg.MaxRepeatedFailures, err)
		}
		delay, ok := j.cfg.Restart.Next(time.Now(), err)
		if !ok {
			return fmt.Errorf("job %q failed (restart strategy %v gave up): %w", j.plan.Name, j.cfg.Restart, err)
		}
		j.logger.Warn("job failed, restarting", "err", err, "delay", delay, "strategy", j.cfg.Restart.String())
		j.obs.restarting(delay)
		j.emit(JobEvent{Kind: "restarting", Err: err})
		if err := j.backoff(ctx, delay, err); err != nil {
			return err
		}
		restoreFrom = j.restartFrom()
	}
}

// runAttempt runs one attempt from restoreFrom.
func (j *Job) runAttempt(ctx context.Context, restoreFrom string) error {
	att, err := j.newAttempt(ctx, restoreFrom)
	if err != nil {
		return err
	}
	if att.restored != nil {
		j.lastCompleted = max(j.lastCompleted, att.restored.id)
	}
	return att.restored.explain(att.run())
}

// restartFrom is where an attempt after a failure starts: the newest
// checkpoint, once this job completed or restored one; before that, where
// the first attempt started (a fresh start stays fresh and does not pick up
// an earlier run's checkpoints; a restore from a path tries the path again).
func (j *Job) restartFrom() string {
	if j.store != nil && j.lastCompleted > 0 {
		return "latest"
	}
	return j.cfg.Restore
}

// backoff waits delay before a restart after failure. A stop requested
// meanwhile ends the job at once; a savepoint requested meanwhile fails.
func (j *Job) backoff(ctx context.Context, delay time.Duration, failure error) error {
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		case req := <-j.control:
			if req.kind != KindFinal {
				req.reply <- savepointResult{err: fmt.Errorf("the job is waiting %v to restart after a failure; try again once it runs: %w", delay, failure)}
				continue
			}
			err := fmt.Errorf("%w: stopped while waiting to restart after a failure (%w); the last complete checkpoint stands", ErrStopIncomplete, failure)
			req.reply <- savepointResult{err: err}
			return err
		}
	}
}

// refuseExisting returns an error wrapping ErrCheckpointsExist if st holds
// a checkpoint (complete or not; savepoints do not count).
func refuseExisting(ctx context.Context, st *storage.Storage, job string) error {
	infos, err := st.List(ctx)
	if err != nil {
		return fmt.Errorf("open checkpoint storage %s: %w", st.Location(), err)
	}
	var newest *storage.Info
	for i := range infos {
		if infos[i].Kind == storage.KindCheckpoint {
			newest = &infos[i]
		}
	}
	if newest == nil {
		return nil
	}
	return fmt.Errorf("%w of job %q (newest: %s, %s): resume from them (--restore latest; Go: Config.Restore = \"latest\") or start over and ignore them (--fresh; Go: Config.Fresh), which delivers again what earlier runs delivered",
		ErrCheckpointsExist, job, newest.Path, newest.Status)
}

// repeats counts consecutive failures that look the same from the same
// checkpoint.
type repeats struct {
	from int64
	sig  string
	n    int
}

// add records a failure after a restore from checkpoint from (0: none)
// and returns how many times in a row it came.
func (r *repeats) add(from int64, err error) int {
	sig := failureSignature(err)
	if r.n > 0 && r.from == from && r.sig == sig {
		r.n++
	} else {
		*r = repeats{from: from, sig: sig, n: 1}
	}
	return r.n
}

// failureSignature is err's message with every run of digits replaced by
// "#", so that failures differing only in offsets, ids, ports or times
// compare equal.
func failureSignature(err error) string {
	msg := err.Error()
	b := make([]byte, 0, len(msg))
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= '0' && c <= '9' {
			if len(b) == 0 || b[len(b)-1] != '#' {
				b = append(b, '#')
			}
			continue
		}
		b = append(b, c)
	}
	return string(b)
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
