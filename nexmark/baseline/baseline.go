package baseline

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/nexmark"
)

// Run runs the hand-written loop of opts.Query over opts.Events events
// and measures it with nexmark.Measure. Parallelism, checkpoints and the
// logger do not apply: the result reports parallelism 1.
func Run(ctx context.Context, opts nexmark.BenchOptions) (nexmark.BenchResult, error) {
	opts.Parallelism = 1
	opts.CheckpointInterval = 0
	if opts.Events == 0 {
		opts.Events = nexmark.DefaultBenchEvents
	}
	if opts.TPS == 0 {
		opts.TPS = max(opts.Events/10, 1)
	}
	g, err := nexmark.NewGenerator(opts.GeneratorConfig())
	if err != nil {
		return nexmark.BenchResult{}, err
	}
	run, ok := loops[opts.Query]
	if !ok {
		return nexmark.BenchResult{}, fmt.Errorf("baseline: %w %q", nexmark.ErrUnknownQuery, opts.Query)
	}
	n := opts.Events
	return nexmark.Measure(opts, func() (int64, uint64, error) {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		var s sink
		run(g, n, &s)
		return s.n, s.sum, nil
	})
}

// sink reads every field of every result, as nexmark.Discard does.
type sink struct {
	n   int64
	sum uint64
}

func emitTo[T nexmark.Folder](s *sink) func(T) {
	return func(v T) {
		s.n++
		s.sum += v.Fold(0x9e3779b97f4a7c15)
	}
}

var loops = map[string]func(g *nexmark.Generator, n int64, s *sink){
	"q0": func(g *nexmark.Generator, n int64, s *sink) { Q0(g, n, emitTo[nexmark.Bid](s)) },
	"q1": func(g *nexmark.Generator, n int64, s *sink) { Q1(g, n, emitTo[nexmark.Q1Result](s)) },
	"q2": func(g *nexmark.Generator, n int64, s *sink) { Q2(g, n, emitTo[nexmark.Q2Result](s)) },
	"q3": func(g *nexmark.Generator, n int64, s *sink) { Q3(g, n, emitTo[nexmark.Q3Result](s)) },
	"q4": func(g *nexmark.Generator, n int64, s *sink) { Q4(g, n, emitTo[nexmark.Q4Result](s)) },
	"q5": func(g *nexmark.Generator, n int64, s *sink) { Q5(g, n, emitTo[nexmark.Q5Result](s)) },
	// The same computation: the engine's two plans for q5 differ.
	"q5-sliding": func(g *nexmark.Generator, n int64, s *sink) { Q5(g, n, emitTo[nexmark.Q5Result](s)) },
	"q7":         func(g *nexmark.Generator, n int64, s *sink) { Q7(g, n, emitTo[nexmark.Bid](s)) },
	"q8":         func(g *nexmark.Generator, n int64, s *sink) { Q8(g, n, emitTo[nexmark.Q8Result](s)) },
	"q11":        func(g *nexmark.Generator, n int64, s *sink) { Q11(g, n, emitTo[nexmark.Q11Result](s)) },
	"q12":        func(g *nexmark.Generator, n int64, s *sink) { Q12(g, n, SystemClock, emitTo[nexmark.Q12Result](s)) },
}

// watermark tracks the watermark of the generator's stream, as the
// source's watermark strategy computes it.
type watermark struct {
	delay int64
	wm    int64
}

func newWatermark(g *nexmark.Generator) watermark {
	return watermark{delay: g.Config().WatermarkDelay.Milliseconds(), wm: minTime}
}

// advance takes the time of the next event; it reports whether the
// watermark moved.
func (w *watermark) advance(ts int64) bool {
	if ts-w.delay > w.wm {
		w.wm = ts - w.delay
		return true
	}
	return false
}

const (
	minTime = -1 << 63
	maxTime = 1<<63 - 1
)

// floorTo returns the start of the window of size that holds ts.
func floorTo(ts, size int64) int64 {
	w := ts - ts%size
	if ts < 0 && ts%size != 0 {
		w -= size
	}
	return w
}
