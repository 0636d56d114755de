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

// workload chooses the key of record i: every key in turn (uniform: all
// the state changes within a few seconds), or every key once and then
// only the keys of a hot 1 % (hot: few keys change per interval, spread
// over the whole state).
type workload struct {
	name string
	key  func(i, keys int64) int64
}

var workloads = []workload{
	{"uniform", func(i, keys int64) int64 { return i % keys }},
	{"hot1pct", func(i, keys int64) int64 {
		if i < keys {
			return i
		}
		return (i * 0x9E3779B1) % max(keys/100, 1)
	}},
}

// job: records i = 0..n-1, key w.key(i, keys); each record replaces its
// key's value (valueBytes) and emits the key.
func job(n, keys int64, w workload, cfg runtime.CheckpointConfig, restore string, sink *discard, events chan runtime.JobEvent, mark *atomic.Int64) *stream.Env {
	env := stream.New("checkpoint-bench", stream.WithCheckpointConfig(cfg), stream.WithRestore(restore),
		stream.WithEvents(events), stream.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	src := stream.Generate(env, n, func(i int64) int64 { return i }).UID("gen")
	if mark != nil {
		// Note the process CPU time when the fill is done (every key has
		// a value), to tell the cost of the steady state from the fill's.
		src = stream.Map(src, func(i int64) int64 {
			if i == keys {
				mark.Store(int64(processCPU()))
			}
			return i
		}).UID("mark")
	}
	pad := strings.Repeat("x", valueBytes-8)
	out := stream.ProcessKeyed(stream.KeyBy(src, func(i int64) int64 { return w.key(i, keys) }), func() stream.KeyedProcessFunction[int64, int64, int64] {
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
	steady    time.Duration // CPU time after the fill
	gcs       uint32        // garbage collections during the run
}

func run(b *testing.B, mk func(mark *atomic.Int64) *stream.Env) measured {
	var mark atomic.Int64
	env := mk(&mark)
	goruntime.GC() // do not bill this run for the garbage of the previous one
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	gc0 := ms.NumGC
	start, cpu0 := time.Now(), processCPU()
	if err := env.Execute(context.Background()); err != nil {
		b.Fatal(err)
	}
	end := processCPU()
	goruntime.ReadMemStats(&ms)
	m := measured{wall: time.Since(start), cpu: end - cpu0, gcs: ms.NumGC - gc0}
	if mark.Load() != 0 {
		m.steady = end - time.Duration(mark.Load())
	}
	return m
}

// processCPU is the user and system time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCheckpointCost runs, for each state size and workload, the same
// records with checkpoints off, with full checkpoints every second, with
// incremental ones every second and with checkpoints off again, reporting
// records/s, CPU per record, the extra CPU and the throughput lost against
// the mean of the two runs without checkpoints, checkpoint durations and
// bytes, and the time to restore the last checkpoint.
func BenchmarkCheckpointCost(b *testing.B) {
	for _, sc := range sizes(b) {
		for _, w := range workloads {
			b.Run(sc.name+"/"+w.name, func(b *testing.B) {
				keys := keysFor(sc.size)
				// Fill, then update about every key twice more (uniform);
				// at least 32M records, so that a run lasts tens of
				// checkpoint intervals.
				n := max(3*keys, 32_000_000)
				runOff := func(n int64) measured {
					return run(b, func(mark *atomic.Int64) *stream.Env {
						return job(n, keys, w, runtime.CheckpointConfig{}, "", &discard{}, nil, mark)
					})
				}
				// Warm up: the first run of a process pays for faulting in
				// its heap, a cost the runs after it do not have (a run of
				// the fill alone is not enough: the heap of a whole run is
				// larger). Then the baseline runs first and again last, and
				// the runs with checkpoints are compared with their mean:
				// the machine drifts.
				runOff(n)
				off := runOff(n)
				type result struct {
					mode string
					on   measured
				}
				var results []result
				for _, inc := range []bool{false, true} {
					mode := "full"
					if inc {
						mode = "inc"
					}
					if m := os.Getenv("SLUICE_CHECKPOINT_MODES"); m != "" && !slices.Contains(strings.Split(m, ","), mode) {
						continue
					}
					storage := filepath.Join(b.TempDir(), "chk")
					events := make(chan runtime.JobEvent, 10000)
					on := run(b, func(mark *atomic.Int64) *stream.Env {
						return job(n, keys, w, runtime.CheckpointConfig{Interval: time.Second, Storage: storage, Retain: 1, Incremental: inc}, "", &discard{}, events, mark)
					})
					close(events)
					var durs []time.Duration
					var bytes int64
					for ev := range events {
						if ev.Kind == "checkpoint-completed" && ev.Duration > 0 {
							durs = append(durs, ev.Duration)
							bytes += ev.KeyedBytes
						}
					}
					slices.Sort(durs)
					// Restore: a job of one record restoring the last checkpoint.
					restoreT := run(b, func(*atomic.Int64) *stream.Env {
						return job(1, keys, w, runtime.CheckpointConfig{Storage: storage}, "latest", &discard{}, nil, nil)
					})

					results = append(results, result{mode, on})
					b.ReportMetric(float64(n)/on.wall.Seconds(), "rec/s-"+mode)
					b.ReportMetric(float64(on.cpu.Nanoseconds())/float64(n), "cpu-ns/rec-"+mode)
					b.ReportMetric(float64(on.gcs), "gcs-"+mode)
					if len(durs) > 0 {
						b.ReportMetric(float64(durs[len(durs)/2].Milliseconds()), "ms-ckpt-p50-"+mode)
						b.ReportMetric(float64(durs[len(durs)-1].Milliseconds()), "ms-ckpt-max-"+mode)
						b.ReportMetric(float64(bytes)/float64(len(durs))/1e6, "MB/ckpt-"+mode)
					}
					b.ReportMetric(float64(len(durs)), "checkpoints-"+mode)
					b.ReportMetric(restoreT.wall.Seconds(), "s-restore-"+mode)
				}
				off2 := runOff(n)
				b.ReportMetric(float64(n)/off.wall.Seconds(), "rec/s-off")
				b.ReportMetric(float64(n)/off2.wall.Seconds(), "rec/s-off2")
				b.ReportMetric(float64(off.cpu.Nanoseconds())/float64(n), "cpu-ns/rec-off")
				b.ReportMetric(float64(off2.cpu.Nanoseconds())/float64(n), "cpu-ns/rec-off2")
				b.ReportMetric(float64(off.gcs+off2.gcs)/2, "gcs-off")
				for _, r := range results {
					mode := r.mode
					base := (off.cpu + off2.cpu).Seconds() / 2
					b.ReportMetric(100*(r.on.cpu.Seconds()/base-1), "%cpu-extra-"+mode)
					if off.steady > 0 && off2.steady > 0 && r.on.steady > 0 {
						// After the fill: the same records in every run.
						b.ReportMetric(100*(r.on.steady.Seconds()/((off.steady+off2.steady).Seconds()/2)-1), "%cpu-extra-steady-"+mode)
					}
					wall := (off.wall + off2.wall).Seconds() / 2
					b.ReportMetric(100*(1-wall/r.on.wall.Seconds()), "%throughput-loss-"+mode)
				}
			})
		}
	}
}
