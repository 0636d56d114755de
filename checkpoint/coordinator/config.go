package coordinator

import (
	"errors"
	"fmt"
	"time"
)

// Defaults and limits of [Config].
const (
	// DefaultTimeout is the Timeout used when Config.Timeout is 0, as in
	// Flink.
	DefaultTimeout = 10 * time.Minute
	// DefaultMaxConcurrent is the MaxConcurrent used when
	// Config.MaxConcurrent is 0, as in Flink.
	DefaultMaxConcurrent = 1
	// MinInterval is the smallest Interval and Timeout accepted, as in
	// Flink. Anything shorter is almost certainly a unit mistake
	// (time.Duration(1000) is a microsecond, not a second).
	MinInterval = 10 * time.Millisecond
	// UnlimitedFailures is the TolerableFailures value that never fails the
	// job because of failed checkpoints.
	UnlimitedFailures = -1
)

// Config configures a [Coordinator]. The zero Config is valid: periodic
// checkpoints disabled, savepoints and final checkpoints on request, the
// defaults below for everything else.
type Config struct {
	// Interval is the time between the triggers of periodic checkpoints.
	// 0, the default, disables periodic checkpoints; savepoints and final
	// checkpoints can still be requested. If not 0, it must be at least
	// MinInterval. The first periodic checkpoint is due Interval after New.
	Interval time.Duration

	// Timeout aborts a checkpoint that has not completed Timeout after it
	// was triggered, including the time its metadata takes to store. 0 means
	// DefaultTimeout (10m). If not 0, it must be at least MinInterval.
	Timeout time.Duration

	// MinPause is the minimum time between the end (completion or abort) of
	// one checkpoint or savepoint and the trigger of the next periodic
	// checkpoint, so that a job whose checkpoints take about Interval still
	// gets time to process records. Default 0. It applies only when
	// MaxConcurrent is 1 and is ignored otherwise, because a pause after
	// each checkpoint cannot be kept while several run at once. It does not
	// delay requested savepoints and final checkpoints.
	MinPause time.Duration

	// MaxConcurrent is the maximum number of checkpoints, savepoints and
	// final checkpoints pending at once. 0 means DefaultMaxConcurrent (1).
	MaxConcurrent int

	// TolerableFailures is the number of consecutive failed checkpoints
	// tolerated before the coordinator fails the job. A checkpoint fails if
	// it times out, a subtask declines it or storing its metadata fails; a
	// completed checkpoint resets the count. Aborts that are not failures
	// do not count: subsumed checkpoints, declines whose reason wraps
	// ErrTaskNotReady, aborts by Stop and every savepoint abort (reported
	// to the requester instead). The job fails on failure number
	// TolerableFailures+1.
	//
	// The default, 0, is Flink's: the first failed checkpoint fails the job,
	// so that a job that cannot checkpoint (and whose exactly-once sinks
	// therefore cannot commit) restarts from its latest checkpoint instead
	// of running on without one. UnlimitedFailures (-1) never fails the job.
	TolerableFailures int

	// FirstID is the id of the first checkpoint; ids then increase by one
	// per checkpoint, savepoint or final checkpoint. 0 means 1. A job
	// restored from checkpoint n must start above n and above every id its
	// previous attempts may have used (whose partial files may remain in
	// storage), so that no id is ever reused: at least n+1, better one more
	// than the largest id found in storage.
	FirstID int64
}

// ErrInvalidConfig is wrapped by the errors of [Config.Validate] and [New]
// when the Config is invalid.
var ErrInvalidConfig = errors.New("invalid checkpoint configuration")

// Validate reports every invalid option of c in one error (see
// [errors.Join]), each naming the option and wrapping [ErrInvalidConfig], or
// nil if c is valid.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Interval != 0 && c.Interval < MinInterval {
		bad("Interval is %v; it must be 0 (no periodic checkpoints) or at least %v", c.Interval, MinInterval)
	}
	if c.Timeout != 0 && c.Timeout < MinInterval {
		bad("Timeout is %v; it must be 0 (the default, %v) or at least %v", c.Timeout, DefaultTimeout, MinInterval)
	}
	if c.MinPause < 0 {
		bad("MinPause is %v; it must not be negative", c.MinPause)
	}
	if c.MaxConcurrent < 0 {
		bad("MaxConcurrent is %d; it must be 0 (the default, %d) or more", c.MaxConcurrent, DefaultMaxConcurrent)
	}
	if c.TolerableFailures < UnlimitedFailures {
		bad("TolerableFailures is %d; it must be -1 (unlimited) or more", c.TolerableFailures)
	}
	if c.FirstID < 0 {
		bad("FirstID is %d; it must be 0 (the default, 1) or more", c.FirstID)
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero option that has a default set to
// it.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.FirstID == 0 {
		c.FirstID = 1
	}
	return c
}
