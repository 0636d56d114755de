package stream_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(context.Background(), d)
}

// waitFor polls cond until it holds or 20 s passed.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quietLogger drops logs below warnings.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// countEvents returns a channel for stream.WithEvents and a function that,
// once the job has ended, closes the channel and returns how many events
// of each kind the job sent.
func countEvents() (chan runtime.JobEvent, func() map[string]int) {
	events := make(chan runtime.JobEvent, 1000)
	counts := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			counts[ev.Kind]++
		}
	}()
	return events, func() map[string]int {
		close(events)
		<-done
		return counts
	}
}
