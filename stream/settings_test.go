package stream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// TestInvalidSettings: an invalid option or operator setting is not
// applied silently; Plan, Start and Execute refuse the job with an error
// that wraps runtime.ErrConfig and names the setting and the operator.
func TestInvalidSettings(t *testing.T) {
	type build func(env *stream.Env)
	job := func(opts []stream.Option, fn build) *stream.Env {
		env := stream.New("settings", append(opts, stream.WithLogger(quietLogger()))...)
		if fn == nil {
			stream.FromSlice(env, ints(3)).SinkTo("out", sluicetest.NewSink[int]())
		} else {
			fn(env)
		}
		return env
	}
	for _, tc := range []struct {
		name string
		opts []stream.Option
		fn   build
		want []string
	}{
		{name: "WithParallelism(0)", opts: []stream.Option{stream.WithParallelism(0)},
			want: []string{"stream.WithParallelism(0): the parallelism must be at least 1"}},
		{name: "WithParallelism(-2)", opts: []stream.Option{stream.WithParallelism(-2)},
			want: []string{"stream.WithParallelism(-2)"}},
		{name: "WithMaxParallelism(0)", opts: []stream.Option{stream.WithMaxParallelism(0)},
			want: []string{"stream.WithMaxParallelism(0): the max parallelism must be from 1 to 32768"}},
		{name: "WithMaxParallelism too large", opts: []stream.Option{stream.WithMaxParallelism(1 << 20)},
			want: []string{"stream.WithMaxParallelism(1048576)"}},
		{name: "WithCheckpointing(0)", opts: []stream.Option{stream.WithCheckpointing(0, "")},
			want: []string{`stream.WithCheckpointing(0s, ""): the interval must be positive`}},
		{name: "WithBatchSize(0)", opts: []stream.Option{stream.WithBatchSize(0)},
			want: []string{"stream.WithBatchSize(0): the batch size must be at least 1"}},
		{name: "WithBufferTimeout(-1ms)", opts: []stream.Option{stream.WithBufferTimeout(-time.Millisecond)},
			want: []string{"stream.WithBufferTimeout(-1ms): the buffer timeout must be positive"}},
		{name: "WithCheckpointing and WithCheckpointConfig", opts: []stream.Option{
			stream.WithCheckpointing(time.Second, ""), stream.WithCheckpointConfig(runtime.CheckpointConfig{Interval: time.Minute})},
			want: []string{"stream.WithCheckpointConfig(...): conflicts with stream.WithCheckpointing(1s, \"\")"}},
		{name: "SideOutput(...).Parallelism(4)", fn: func(env *stream.Env) {
			tag := stream.NewOutputTag[int]("odd")
			main := stream.Process(stream.FromSlice(env, ints(3)), func(ctx *stream.Context, v int, out stream.Collector[int]) error {
				out.Collect(v)
				return nil
			}).Name("split")
			main.SinkTo("out", sluicetest.NewSink[int]())
			stream.SideOutput(main, tag).Parallelism(4).SinkTo("odd", sluicetest.NewSink[int]())
		}, want: []string{`operator "split": SideOutput(...).Parallelism(4): a side output has no operator of its own`}},
		{name: "WithMaxRepeatedFailures(0)", opts: []stream.Option{stream.WithMaxRepeatedFailures(0)},
			want: []string{"stream.WithMaxRepeatedFailures(0): use a positive number, or -1 for no limit"}},
		{name: "WithStopTimeout(0)", opts: []stream.Option{stream.WithStopTimeout(0)},
			want: []string{"stream.WithStopTimeout(0s): the stop timeout must be positive"}},
		{name: "Stream.Parallelism(-1)", fn: func(env *stream.Env) {
			s := stream.Map(stream.FromSlice(env, ints(3)), func(v int) int { return v }).Parallelism(-1).Name("double")
			s.SinkTo("out", sluicetest.NewSink[int]())
		}, want: []string{`operator "double": Parallelism(-1): the parallelism must be at least 1`}},
		{name: "source Parallelism(0)", fn: func(env *stream.Env) {
			stream.FromSlice(env, ints(3)).Parallelism(0).SinkTo("out", sluicetest.NewSink[int]())
		}, want: []string{`operator "Collection": Parallelism(0)`}},
		{name: "Stream.MaxParallelism(0)", fn: func(env *stream.Env) {
			stream.FromSlice(env, ints(3)).MaxParallelism(0).SinkTo("out", sluicetest.NewSink[int]())
		}, want: []string{`operator "Collection": MaxParallelism(0): the max parallelism must be from 1`}},
		{name: "Sink.Parallelism(0)", fn: func(env *stream.Env) {
			stream.FromSlice(env, ints(3)).SinkTo("out", sluicetest.NewSink[int]()).Parallelism(0)
		}, want: []string{`operator "out": Parallelism(0)`}},
		{name: "AllowedLateness(-1s)", fn: func(env *stream.Env) {
			k := stream.KeyBy(stream.FromSlice(env, ints(3)), func(v int) int { return v })
			w := stream.Window(k, eventtime.Tumbling(time.Second)).AllowedLateness(-time.Second)
			stream.ReduceWindow(w, func(a, b int) int { return a + b }).SinkTo("out", sluicetest.NewSink[int]())
		}, want: []string{`operator "Window(Tumbling(size=1s))": AllowedLateness(-1s): the allowed lateness must be a non-negative whole number of milliseconds`}},
		{name: "AllowedLateness(1µs)", fn: func(env *stream.Env) {
			k := stream.KeyBy(stream.FromSlice(env, ints(3)), func(v int) int { return v })
			w := stream.Window(k, eventtime.Tumbling(time.Second)).AllowedLateness(time.Microsecond)
			stream.ReduceWindow(w, func(a, b int) int { return a + b }).Name("sum").SinkTo("out", sluicetest.NewSink[int]())
		}, want: []string{`operator "sum": AllowedLateness(1µs)`}},
		{name: "every mistake reported", opts: []stream.Option{stream.WithParallelism(0), stream.WithBatchSize(-1)},
			fn: func(env *stream.Env) {
				s := stream.FromSlice(env, ints(3)).Name("numbers").Parallelism(-3)
				s.SinkTo("out", sluicetest.NewSink[int]()).Parallelism(0)
			},
			want: []string{"4 invalid settings", "stream.WithParallelism(0)", "stream.WithBatchSize(-1)",
				`operator "numbers": Parallelism(-3)`, `operator "out": Parallelism(0)`}},
		{name: "no sink", fn: func(env *stream.Env) {
			stream.Map(stream.FromSlice(env, ints(3)), func(v int) int { return v })
		}, want: []string{`job "settings"`, "the job has no sink", "SinkTo or Print"}},
		{name: "parallelism above max parallelism", opts: []stream.Option{stream.WithMaxParallelism(2)}, fn: func(env *stream.Env) {
			stream.FromSlice(env, ints(3)).Parallelism(4).SinkTo("out", sluicetest.NewSink[int]())
		}, want: []string{"parallelism 4 exceeds max parallelism 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, runtime.ErrConfig) {
					t.Fatalf("%s: got %v, want an error wrapping runtime.ErrConfig", what, err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error %q lacks %q", what, err, w)
					}
				}
			}
			check("Validate", job(tc.opts, tc.fn).Validate())
			j, err := job(tc.opts, tc.fn).Start(context.Background())
			if j != nil {
				t.Fatal("Start returned a job")
			}
			check("Start", err)
			check("Execute", sluicetest.RunErr(job(tc.opts, tc.fn), time.Minute))
		})
	}
}

// TestInvalidSettingCountsOnce: a refused setting is not applied, so the
// graph's own checks do not report it a second time.
func TestInvalidSettingCountsOnce(t *testing.T) {
	env := stream.New("once", stream.WithMaxParallelism(1<<20))
	stream.FromSlice(env, ints(3)).SinkTo("out", sluicetest.NewSink[int]())
	err := env.Validate()
	if err == nil || strings.Count(err.Error(), "max parallelism") != 1 {
		t.Fatalf("got %v, want the option named once", err)
	}
}

// TestValidSettingsRun: the settings at their smallest valid values run.
func TestValidSettingsRun(t *testing.T) {
	env := stream.New("valid", stream.WithParallelism(1), stream.WithMaxParallelism(1), stream.WithBatchSize(1),
		stream.WithBufferTimeout(time.Millisecond), stream.WithCheckpointing(time.Hour, ""), stream.WithLogger(quietLogger()))
	out := sluicetest.NewSink[int]()
	k := stream.KeyBy(stream.FromSlice(env, ints(10)).Parallelism(1).MaxParallelism(1), func(v int) int { return v % 2 })
	stream.Reduce(k, func(a, b int) int { return a + b }).SinkTo("out", out).Parallelism(1)
	sluicetest.Run(t, env)
	if n := out.Len(); n != 10 {
		t.Fatalf("%d records, want 10", n)
	}
}

// Options do not depend on their order: incremental checkpoints asked for
// before a checkpoint configuration stay on.
func TestOptionsOrderIndependent(t *testing.T) {
	cfg := runtime.CheckpointConfig{Interval: time.Second}
	for _, opts := range [][]stream.Option{
		{stream.WithIncrementalCheckpoints(), stream.WithCheckpointConfig(cfg)},
		{stream.WithCheckpointConfig(cfg), stream.WithIncrementalCheckpoints()},
	} {
		if c := stream.New("order", opts...).Config().Checkpoint; !c.Incremental || c.Interval != time.Second {
			t.Errorf("checkpoint config %+v, want incremental every 1s", c)
		}
	}
}
