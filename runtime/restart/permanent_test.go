package restart

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// No strategy restarts after a permanent failure (connector.IsPermanent,
// tested there).
func TestPermanentNotRestarted(t *testing.T) {
	base := errors.New("transaction 42 expired")
	for _, err := range []error{connector.Permanent(base), fmt.Errorf("commit: %w", connector.ErrDataLoss)} {
		for _, s := range []Strategy{FixedDelay(-1, time.Second), ExponentialBackoff(BackoffConfig{}), FailureRate(10, time.Minute, time.Second)} {
			if _, ok := s.Next(time.Now(), err); ok {
				t.Errorf("%v restarts after %v", s, err)
			}
		}
	}
	if _, ok := FixedDelay(1, time.Second).Next(time.Now(), base); !ok {
		t.Error("a transient failure is not restarted")
	}
}
