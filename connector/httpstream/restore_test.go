package httpstream

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// TestRestoreSendsLastEventID stops a job with a final checkpoint part-way
// through an SSE stream and restores it: the restored source asks for the
// events after the last one it emitted, so that with a clean stop every
// event arrives exactly once.
func TestRestoreSendsLastEventID(t *testing.T) {
	const n = 400
	srv := newStreamServer(t, SSE, numbered(n), func(s *streamServer) { s.keepAlive, s.pace = 10*time.Millisecond, time.Millisecond })
	dir := t.TempDir()
	ck := "file://" + filepath.Join(dir, "checkpoints")
	run := func(restore string, stopAt int) ([]int, string) {
		out := sluicetest.NewSink[int]()
		opts := []stream.Option{stream.WithCheckpointing(20*time.Millisecond, ck), stream.WithRestart(restart.None()), stream.WithLogger(slog.New(slog.DiscardHandler))}
		if restore != "" {
			opts = append(opts, stream.WithRestore(restore))
		}
		env := stream.New("restore", opts...)
		src, err := NewSource(srv.URL, number, WithFraming(SSE), ResumeFromLastEventID(), fast)
		if err != nil {
			t.Fatal(err)
		}
		stream.FromSource(env, "src", src, eventtime.NoWatermarks[int]()).SinkTo("out", out)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		j, err := env.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "records", func() bool { return out.Len() >= stopAt })
		path, err := j.Stop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Wait(); err != nil {
			t.Fatal(err)
		}
		return out.Values(), path
	}
	first, path := run("", 100)
	if len(first) >= n {
		t.Fatalf("the first run read all %d events before its stop", len(first))
	}
	second, _ := run(path, n-len(first))
	if got := append(first, second...); !slices.Equal(got, numbered2(n)) {
		t.Fatalf("first run %d events, second %d (from %v): not every event exactly once", len(first), len(second), second[:min(3, len(second))])
	}
	_, ids, _ := srv.seen()
	if last := ids[len(ids)-1]; last != itoa(len(first)-1) {
		t.Fatalf("the restored source sent Last-Event-ID %q, want %q", last, itoa(len(first)-1))
	}
}
