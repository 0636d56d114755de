package restart

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Unrecoverable is connector.Permanent (tested there); here: the two agree,
// and no strategy restarts after such an error.
func TestUnrecoverable(t *testing.T) {
	base := errors.New("transaction 42 expired")
	for _, err := range []error{Unrecoverable(base), connector.Permanent(base), fmt.Errorf("commit: %w", connector.ErrDataLoss)} {
		if !IsUnrecoverable(err) || !connector.IsPermanent(err) {
			t.Errorf("%v: IsUnrecoverable %t, IsPermanent %t; want both", err, IsUnrecoverable(err), connector.IsPermanent(err))
		}
		for _, s := range []Strategy{FixedDelay(-1, time.Second), ExponentialBackoff(BackoffConfig{}), FailureRate(10, time.Minute, time.Second)} {
			if _, ok := s.Next(time.Now(), err); ok {
				t.Errorf("%v restarts after %v", s, err)
			}
		}
	}
	if IsUnrecoverable(base) || Unrecoverable(nil) != nil {
		t.Error("an unmarked error is unrecoverable, or Unrecoverable(nil) is not nil")
	}
}
