package restart

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// FailureRate returns a Strategy that restarts after delay unless more than
// maxFailures failures (this one included) happened within the sliding
// window of length interval that ends now; a failure exactly interval ago
// is still within it. With maxFailures 3 and interval 1m, the fourth failure
// within a minute fails the job. maxFailures 0 never restarts.
//
// It panics with an error wrapping [ErrInvalidConfig] if maxFailures or
// delay is negative or interval is not positive.
//
// Its String is, for example, "failure-rate(3 failures per 1m0s, 1s)".
func FailureRate(maxFailures int, interval time.Duration, delay time.Duration) Strategy {
	switch {
	case maxFailures < 0:
		panic(fmt.Errorf("%w: FailureRate maxFailures is %d; it must not be negative", ErrInvalidConfig, maxFailures))
	case interval <= 0:
		panic(fmt.Errorf("%w: FailureRate interval is %v; it must be positive", ErrInvalidConfig, interval))
	case delay < 0:
		panic(fmt.Errorf("%w: FailureRate delay is %v; it must not be negative", ErrInvalidConfig, delay))
	}
	return &failureRate{max: maxFailures, interval: interval, delay: delay}
}

type failureRate struct {
	max      int
	interval time.Duration
	delay    time.Duration
	failures []time.Time // the times of the latest failures, oldest first; at most max+1
}

func (s *failureRate) Next(now time.Time, err error) (time.Duration, bool) {
	if connector.IsPermanent(err) {
		return 0, false
	}
	start := now.Add(-s.interval)
	i := 0
	for i < len(s.failures) && s.failures[i].Before(start) {
		i++
	}
	s.failures = append(s.failures[i:], now)
	if len(s.failures) > s.max {
		s.failures = s.failures[len(s.failures)-s.max-1:] // keep memory bounded
		return 0, false
	}
	return s.delay, true
}

func (s *failureRate) String() string {
	return fmt.Sprintf("failure-rate(%d failures per %v, %v)", s.max, s.interval, s.delay)
}
