package kinesis

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

// TestStopEarlyRestoreElsewhere: jobs stopped (a final checkpoint) at
// different points, also before any record was read, and restored at
// another parallelism read every record exactly once.
func TestStopEarlyRestoreElsewhere(t *testing.T) {
	for _, tc := range []struct {
		stopAfter time.Duration
		from, to  int
	}{{0, 2, 1}, {30 * time.Millisecond, 2, 1}, {300 * time.Millisecond, 1, 3}} {
		t.Run(fmt.Sprintf("%v-%d-to-%d", tc.stopAfter, tc.from, tc.to), func(t *testing.T) {
			const n = 600
			p := prepareSource(t, t.Name()+strconv.FormatInt(time.Now().UnixNano(), 36), n, 0)
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			logf, _ := os.Create(filepath.Join(dir, "log"))
			defer func() {
				if t.Failed() {
					b, _ := os.ReadFile(logf.Name())
					t.Logf("job log:\n%s", tailString(string(b), 6000))
				}
			}()
			newEnv := func(par int, restore string) *stream.Env {
				opts := []stream.Option{stream.WithParallelism(par), stream.WithCheckpointing(50*time.Millisecond, "file://"+filepath.Join(dir, "ck")),
					stream.WithLogger(slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug})))}
				if restore != "" {
					opts = append(opts, stream.WithRestore(restore))
				}
				env := stream.New("restore", opts...)
				src, err := sourceCase.New(p)
				if err != nil {
					t.Fatal(err)
				}
				s := stream.FromSource(env, "kinesis", src, eventtime.NoWatermarks[int]()).UID("source")
				stream.Map(s, strconv.Itoa).UID("str").SinkTo("out", crashtest.NewTxFileSink(out)).UID("sink")
				return env
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			j, err := newEnv(tc.from, "").Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(tc.stopAfter)
			path, err := j.Stop(ctx)
			if err != nil {
				t.Fatalf("stop: %v", err)
			}
			if err := j.Wait(); err != nil {
				t.Fatal(err)
			}
			j2, err := newEnv(tc.to, path).Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for {
				got, _ := crashtest.ReadCommitted(out)
				if len(got) >= n || ctx.Err() != nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if _, err := j2.Stop(ctx); err != nil {
				t.Fatalf("stop the restored job: %v", err)
			}
			if err := j2.Wait(); err != nil {
				t.Fatal(err)
			}
			got, _ := crashtest.ReadCommitted(out)
			want := make([]string, n)
			for i := range want {
				want[i] = strconv.Itoa(i)
			}
			if d := crashtest.Compare(got, want); !d.OK() {
				t.Fatalf("stopped after %v at parallelism %d, restored at %d: %v", tc.stopAfter, tc.from, tc.to, d)
			}
		})
	}
}
