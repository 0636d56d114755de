package restart

import (
	"errors"
	"time"
)

// Strategy decides whether a failed job restarts.
//
// The runtime calls Next once per failure of the job, in the order of the
// failures, with the time of the failure (from a monotonic clock) and its
// cause (nil if unknown). Next returns how long to wait before restarting,
// or ok=false to give up: the job then fails for good and the Strategy is
// not used again. Next returns ok=false whenever [connector.IsPermanent](err) is
// true. A Strategy keeps state across calls (attempts made, recent
// failures); it is used by one goroutine and need not be safe for concurrent
// use.
//
// String describes the strategy and its parameters for logs, for example
// "fixed-delay(3 attempts, 1s)".
type Strategy interface {
	// Next is called once per failure; it returns the delay before
	// restarting, or ok=false to give up.
	Next(now time.Time, err error) (delay time.Duration, ok bool)
	String() string
}

// ErrInvalidConfig is wrapped by the errors of [BackoffConfig.Validate] and
// is the value of the panics of the constructors given invalid arguments.
var ErrInvalidConfig = errors.New("invalid restart strategy configuration")

// None returns the Strategy that never restarts: the first failure fails the
// job. Its String is "none".
func None() Strategy { return none{} }

type none struct{}

func (none) Next(time.Time, error) (time.Duration, bool) { return 0, false }
func (none) String() string                              { return "none" }
