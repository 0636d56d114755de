package checkpoint

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// valueBytes is the size of each key's value; keys are int64.
const valueBytes = 92

// keysFor returns how many keys make about size bytes of keyed state
// (value plus key).
func keysFor(size int64) int64 { return size / (valueBytes + 8) }

type sizeCase struct {
	name string
	size int64
}

func sizes(b *testing.B) []sizeCase {
	all := []sizeCase{{"10MB", 10 << 20}, {"100MB", 100 << 20}, {"1GB", 1 << 30}}
	if env := os.Getenv("SLUICE_STATE_SIZES"); env != "" {
		var out []sizeCase
		for _, c := range all {
			if slices.Contains(strings.Split(env, ","), c.name) {
				out = append(out, c)
			}
		}
		return out
	}
	return all
}

// discard counts records.
type discard struct{ n atomic.Int64 }

func (d *discard) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[int64], error) {
	return d, nil
}
func (d *discard) Write(_ context.Context, _ int64, _ int64) error { d.n.Add(1); return nil }
func (d *discard) Flush(context.Context) error                     { return nil }
func (d *discard) Close() error                                    { return nil }

// job: records i = 0..n-1, key i % keys; each record replaces its key's
// value (valueBytes) and emits the key.
func job(n, keys int64, cfg runtime.CheckpointConfig, restore string, sink *discard, events chan runtime.JobEvent) *stream.Env {
	env := stream.New("checkpoint-bench", stream.WithCheckpointConfig(cfg), stream.WithRestore(restore),
		stream.WithEvents(events), stream.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	src := stream.Generate(env, n, func(i int64) int64 { return i }).UID("gen")
	pad := strings.Repeat("x", valueBytes-8)
	out := stream.ProcessKeyed(stream.KeyBy(src, func(i int64) int64 { return i % keys }), func() stream.KeyedProcessFunction[int64, int64, int64] {
		var v state.ValueState[string]
		return stream.KeyedProcessFuncs[int64, int64, int64]{
			OpenFn: func(rt *stream.KeyedRuntime[int64]) (err error) {
				v, err = stream.ValueState[string](rt, "value")
				return err
			},
			ProcessFn: func(ctx *stream.KeyedContext[int64], i int64, out stream.Collector[int64]) error {
				v.Update(fmt.Sprintf("%08d", i%100000000) + pad)
				out.Collect(ctx.Key())
				return nil
			},
		}
	}).UID("state")
	out.SinkTo("discard", sink)
	return env
}

// measured is one job run: wall time and the CPU time of the whole process
// (every goroutine, the garbage collector included), which other processes
// on a shared machine inflate much less than wall time.
type measured struct {
	wall, cpu time.Duration
}

func run(b *testing.B, env *stream.Env) measured {
	goruntime.GC() // do not bill this run for the garbage of the previous one
	start, cpu0 := time.Now(), processCPU()
	if err := env.Execute(context.Background()); err != nil {
		b.Fatal(err)
	}
	return measured{time.Since(start), processCPU() - cpu0}
}

// processCPU is the user and system time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCheckpointCost fills the state, then runs the same number of
// updates with checkpoints off and every second, reporting records/s,
// checkpoint durations, and the time to restore the last checkpoint.
func BenchmarkCheckpointCost(b *testing.B) {
	for _, sc := range sizes(b) {
		b.Run(sc.name, func(b *testing.B) {
			keys := keysFor(sc.size)
			// Fill once, then update every key twice more; at least 8M
			// records, so that a run lasts several checkpoint intervals.
			n := max(3*keys, 8_000_000)
			dir := b.TempDir()

			// Checkpoints off.
			off := run(b, job(n, keys, runtime.CheckpointConfig{}, "", &discard{}, nil))

			// Checkpoints every second, into a local directory.
			events := make(chan runtime.JobEvent, 10000)
			storage := filepath.Join(dir, "chk")
			on := run(b, job(n, keys, runtime.CheckpointConfig{Interval: time.Second, Storage: storage, Retain: 1}, "", &discard{}, events))
			close(events)
			var durs []time.Duration
			for ev := range events {
				if ev.Kind == "checkpoint-completed" && ev.Duration > 0 {
					durs = append(durs, ev.Duration)
				}
			}
			slices.Sort(durs)

			// Restore: a job of one record restoring the final checkpoint.
			restoreT := run(b, job(1, keys, runtime.CheckpointConfig{Storage: storage}, "latest", &discard{}, nil))

			b.ReportMetric(float64(n)/off.wall.Seconds(), "rec/s-off")
			b.ReportMetric(float64(n)/on.wall.Seconds(), "rec/s-1s")
			b.ReportMetric(100*(1-off.wall.Seconds()/on.wall.Seconds()), "%loss")
			b.ReportMetric(float64(off.cpu.Nanoseconds())/float64(n), "cpu-ns/rec-off")
			b.ReportMetric(float64(on.cpu.Nanoseconds())/float64(n), "cpu-ns/rec-1s")
			b.ReportMetric(100*(on.cpu.Seconds()/off.cpu.Seconds()-1), "%cpu-extra")
			if len(durs) > 0 {
				b.ReportMetric(float64(durs[len(durs)/2].Milliseconds()), "ms-ckpt-p50")
				b.ReportMetric(float64(durs[len(durs)-1].Milliseconds()), "ms-ckpt-max")
			}
			b.ReportMetric(float64(len(durs)), "checkpoints")
			b.ReportMetric(restoreT.wall.Seconds(), "s-restore")
			b.ReportMetric(restoreT.cpu.Seconds(), "cpu-s-restore")
		})
	}
}
