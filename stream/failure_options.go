package stream

import (
	"fmt"
	"time"
)

// WithFresh starts the job from scratch even though its checkpoint storage
// holds checkpoints of an earlier run; without it (and without
// WithRestore) Start refuses such a storage with an error wrapping
// runtime.ErrCheckpointsExist, because starting over delivers again what
// the earlier run delivered.
func WithFresh() Option { return func(e *Env) { e.cfg.Fresh = true } }

// WithMaxRepeatedFailures ends the job when it fails the same way n times
// in a row from the same checkpoint (default 3; -1: no limit), whatever the
// restart strategy allows. See runtime.Config.MaxRepeatedFailures.
func WithMaxRepeatedFailures(n int) Option {
	return func(e *Env) {
		if n < -1 || n == 0 {
			e.refuse(nil, fmt.Sprintf("stream.WithMaxRepeatedFailures(%d)", n), "use a positive number, or -1 for no limit")
			return
		}
		e.cfg.MaxRepeatedFailures = n
	}
}

// WithStopTimeout bounds how long Job.Stop waits for the final checkpoint
// (default: the checkpoint timeout, at most one minute); past it the job
// ends without it. See runtime.Config.StopTimeout.
func WithStopTimeout(d time.Duration) Option {
	return func(e *Env) {
		if d <= 0 {
			e.refuse(nil, fmt.Sprintf("stream.WithStopTimeout(%v)", d), "the stop timeout must be positive")
			return
		}
		e.cfg.StopTimeout = d
	}
}
