package restart

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// FixedDelay returns a Strategy that restarts after delay, at most attempts
// times over the life of the job, then gives up: with attempts 3 the fourth
// failure fails the job. attempts < 0 means unlimited; 0 never restarts.
// It panics with an error wrapping [ErrInvalidConfig] if delay is negative.
//
// Its String is, for example, "fixed-delay(3 attempts, 1s)" or
// "fixed-delay(unlimited attempts, 1s)".
func FixedDelay(attempts int, delay time.Duration) Strategy {
	if delay < 0 {
		panic(fmt.Errorf("%w: FixedDelay delay is %v; it must not be negative", ErrInvalidConfig, delay))
	}
	return &fixedDelay{attempts: attempts, delay: delay}
}

type fixedDelay struct {
	attempts int // < 0: unlimited
	delay    time.Duration
	made     int
}

func (s *fixedDelay) Next(_ time.Time, err error) (time.Duration, bool) {
	if connector.IsPermanent(err) || (s.attempts >= 0 && s.made >= s.attempts) {
		return 0, false
	}
	s.made++
	return s.delay, true
}

func (s *fixedDelay) String() string {
	return fmt.Sprintf("fixed-delay(%s, %v)", attempts(s.attempts), s.delay)
}

// attempts describes a number of attempts, < 0 meaning unlimited.
func attempts(n int) string {
	switch {
	case n < 0:
		return "unlimited attempts"
	case n == 1:
		return "1 attempt"
	default:
		return fmt.Sprintf("%d attempts", n)
	}
}
