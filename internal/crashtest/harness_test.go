package crashtest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

func init() {
	crashtest.Register("finish-at-once", func(context.Context, *crashtest.ChildEnv) error { return nil })
	crashtest.Register("tiny", func(ctx context.Context, e *crashtest.ChildEnv) error {
		env := stream.New("tiny", e.Options(100*time.Millisecond)...)
		stream.Generate(env, 10, func(i int64) string { return fmt.Sprint(i) }).
			SinkTo("out", crashtest.NewTxFileSink(filepath.Join(e.Dir, "out")))
		return env.Execute(ctx)
	})
	crashtest.Register("fail", func(context.Context, *crashtest.ChildEnv) error { return errors.New("boom") })
}

// fatalTB records a fatal failure instead of failing the test.
type fatalTB struct {
	*testing.T
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// runFatal runs cfg and returns the message it failed with ("" if none).
func runFatal(t *testing.T, cfg crashtest.Config) string {
	f := &fatalTB{T: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		crashtest.Run(f, cfg)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestRunReportsEarlyFinish(t *testing.T) {
	msg := runFatal(t, crashtest.Config{Job: "tiny", Kills: 1, MinUptime: time.Minute, HookKillProb: -1})
	if !strings.Contains(msg, "the job finished in run 0, after 0 of 1 kills") {
		t.Fatalf("got %q", msg)
	}
}

func TestRunReportsJobWithoutHook(t *testing.T) {
	msg := runFatal(t, crashtest.Config{Job: "finish-at-once", Kills: 1, MinUptime: time.Minute, HookKillProb: -1})
	if !strings.Contains(msg, "finished without a checkpoint completing through the harness's hook") {
		t.Fatalf("got %q", msg)
	}
}

func TestRunReportsJobError(t *testing.T) {
	msg := runFatal(t, crashtest.Config{Job: "fail", Kills: 1, MinUptime: time.Minute, HookKillProb: -1})
	if !strings.Contains(msg, "run 0 (kill after 1m0s) failed: exit status 1: job error: boom") ||
		!strings.Contains(msg, `job "fail" failed: boom`) { // from the run's log
		t.Fatalf("got %q", msg)
	}
}

func TestRunUnknownJob(t *testing.T) {
	if msg := runFatal(t, crashtest.Config{Job: "no-such-job"}); !strings.Contains(msg, `job "no-such-job" is not registered`) {
		t.Fatalf("got %q", msg)
	}
}
