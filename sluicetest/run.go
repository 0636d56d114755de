package sluicetest

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/stream"
)

// Run executes env's job and fails the test if it does not finish cleanly
// within a minute.
func Run(t testing.TB, env *stream.Env) {
	t.Helper()
	if err := RunErr(env, time.Minute); err != nil {
		t.Fatalf("job failed: %v", err)
	}
}

// RunErr executes env's job and returns its error; it cancels the job
// after timeout.
func RunErr(env *stream.Env, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return env.Execute(ctx)
}
