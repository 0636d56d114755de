package restart_test

import (
	"errors"
	"fmt"
	"time"

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

func ExampleUnrecoverable() {
	s := restart.ExponentialBackoff(restart.BackoffConfig{})
	lost := restart.Unrecoverable(errors.New("transaction expired before commit: data may be lost"))
	err := fmt.Errorf("commit checkpoint 12: %w", lost)
	_, ok := s.Next(time.Now(), err)
	fmt.Println(restart.IsUnrecoverable(err), ok)
	// Output:
	// true false
}
