package restart_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime/restart"
)

func Example() {
	s := restart.FixedDelay(2, 10*time.Second)
	fmt.Println(s)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, err := range []error{
		errors.New("connection reset"),
		errors.New("connection reset"),
		errors.New("connection reset"),
	} {
		if delay, ok := s.Next(now, err); ok {
			fmt.Println("restart in", delay)
		} else {
			fmt.Println("give up:", err)
		}
		now = now.Add(time.Minute)
	}
	// Output:
	// fixed-delay(2 attempts, 10s)
	// restart in 10s
	// restart in 10s
	// give up: connection reset
}

// A permanent failure (connector.Permanent, or one of connector's
// permanent sentinel errors) is never restarted.
func Example_permanent() {
	s := restart.ExponentialBackoff(restart.BackoffConfig{})
	err := fmt.Errorf("commit checkpoint 12: %w", connector.Permanent(errors.New("transaction expired before commit")))
	_, ok := s.Next(time.Now(), err)
	fmt.Println(connector.IsPermanent(err), ok)
	// Output:
	// true false
}
