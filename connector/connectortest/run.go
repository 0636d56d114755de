package connectortest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// env is one in-process check's setting: its directory (checkpoints and,
// for sources, the exactly-once file target), its log, and the options
// of its jobs.
type env struct {
	t   testing.TB
	dir string
	log *sluicetest.Buffer
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, dir: t.TempDir(), log: &sluicetest.Buffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the check's job log (end):\n%s", lastLines(e.log.String(), 60))
		}
	})
	return e
}

func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// options returns the options of a job of the check at parallelism p:
// checkpoints every interval in the check's directory, restored from
// restore ("" fresh), no restarts unless restarts.
func (e *env) options(p int, restore string, restarts bool) []stream.Option {
	opts := []stream.Option{
		stream.WithParallelism(p),
		stream.WithCheckpointing(interval, "file://"+filepath.Join(e.dir, "checkpoints")),
		stream.WithLogger(e.logger()),
	}
	if restore != "" {
		opts = append(opts, stream.WithRestore(restore))
	}
	if restarts {
		opts = append(opts, stream.WithRestart(restart.FixedDelay(50, 20*time.Millisecond)), stream.WithMaxRepeatedFailures(50))
	} else {
		opts = append(opts, stream.WithRestart(restart.None()))
	}
	return opts
}

// until says when run ends a job that does not end by itself.
type until struct {
	// done reports whether the job's work is complete: the job is then
	// stopped (a final checkpoint).
	done func() bool
	// stopAt, when set, is the point at which the job is stopped part-way
	// through; its final checkpoint's path is returned.
	stopAt func() bool
	// cancelAt, when set, is the point at which the job is cancelled, as
	// a crash would end it.
	cancelAt func() bool
}

// run starts the job of se and returns when it ended: by itself (a
// bounded source, an error) or as u says. It returns the path of the
// final checkpoint of a stop, and the job's error (nil after a cancel).
func run(ctx context.Context, se *stream.Env, u until) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	jctx, jcancel := context.WithCancel(ctx)
	defer jcancel()
	j, err := se.Start(jctx)
	if err != nil {
		return "", err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-j.Done():
			err := j.Wait()
			if ctx.Err() != nil {
				return "", fmt.Errorf("the job did not end within %v: %w", checkTimeout, err)
			}
			return "", err
		case <-tick.C:
		}
		switch {
		case u.cancelAt != nil && u.cancelAt():
			jcancel()
			<-j.Done()
			if err := j.Wait(); err != nil && !errors.Is(err, context.Canceled) {
				return "", err
			}
			return "", nil
		case u.stopAt != nil && u.stopAt(), u.done != nil && u.done():
			path, err := stopJob(ctx, j)
			if err != nil {
				return "", err
			}
			return path, j.Wait()
		}
	}
}

// stopJob stops j and fails when the stop does not end it within the
// stop timeout.
func stopJob(ctx context.Context, j *runtime.Job) (string, error) {
	path, err := j.Stop(ctx)
	if err != nil {
		return "", fmt.Errorf("stop: %w", err)
	}
	select {
	case <-j.Done():
	case <-time.After(30 * time.Second):
		return "", errors.New("the job did not end within 30s of a stop that returned")
	}
	return path, nil
}

// committed returns a function that reports whether the TxFileSink
// directory out holds at least min distinct lines of want (all of them
// when min < 0).
func committed(t testing.TB, out string, want []string, min int) func() bool {
	wanted := make(map[string]bool, len(want))
	for _, w := range want {
		wanted[w] = true
	}
	if min < 0 {
		min = len(wanted)
	}
	return func() bool {
		lines, err := crashtest.ReadCommitted(out)
		if errors.Is(err, fs.ErrNotExist) {
			return false // nothing committed yet
		}
		if err != nil {
			t.Errorf("reading the output: %v", err)
			return true
		}
		seen := map[string]bool{}
		for _, l := range lines {
			if wanted[l] {
				seen[l] = true
			}
		}
		return len(seen) >= min
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
