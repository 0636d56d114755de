package nexmark_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/sluicehq/sluice/nexmark"
	"github.com/sluicehq/sluice/nexmark/internal/reference"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

var quiet = slog.New(slog.DiscardHandler)

// testConfig spreads a few thousand events over tens of seconds of event
// time, so that every kind of window opens, fires and is cleaned up many
// times.
func testConfig() nexmark.Config {
	n := int64(12_000)
	if testing.Short() {
		n = 4_000
	}
	return nexmark.Config{Seed: 11, Events: n, Rate: 250}
}

// run runs build over the events of cfg at parallelism p and returns the
// results.
func run[T any](t *testing.T, cfg nexmark.Config, p int, build func(stream.Stream[nexmark.Event]) stream.Stream[T]) []T {
	t.Helper()
	env := stream.New("nexmark-test", stream.WithParallelism(p), stream.WithLogger(quiet))
	events, err := nexmark.Events(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink := sluicetest.NewSink[T]()
	build(events).SinkTo("collect", sink)
	sluicetest.Run(t, env)
	return sink.Values()
}

// sameMultiset fails the test unless got and want hold the same values
// the same number of times.
func sameMultiset[T comparable](t *testing.T, got, want []T) {
	t.Helper()
	counts := map[T]int{}
	for _, v := range want {
		counts[v]++
	}
	for _, v := range got {
		counts[v]--
	}
	bad := 0
	for v, c := range counts {
		if c != 0 {
			if bad < 5 {
				t.Errorf("%+v: %d more in the results than expected", v, -c)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%d distinct values differ (got %d results, want %d)", bad, len(got), len(want))
	}
	if len(want) == 0 {
		t.Fatal("the reference has no results: the test proves nothing")
	}
}

func forParallelism(t *testing.T, f func(t *testing.T, p int)) {
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprint("p=", p), func(t *testing.T) { f(t, p) })
	}
}

// TestQueries compares the results of every query whose output does not
// depend on timing with the reference's, as multisets.
func TestQueries(t *testing.T) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T)
	}{
		{"q0", sameAsReference(nexmark.Q0, reference.Q0)},
		{"q1", sameAsReference(nexmark.Q1, reference.Q1)},
		{"q2", sameAsReference(nexmark.Q2, reference.Q2)},
		{"q3", sameAsReference(nexmark.Q3, reference.Q3)},
		{"q5", sameAsReference(nexmark.Q5, reference.Q5)},
		{"q5-sliding", sameAsReference(nexmark.Q5Sliding, reference.Q5)},
		{"q7", sameAsReference(nexmark.Q7, reference.Q7)},
		{"q8", sameAsReference(nexmark.Q8, reference.Q8)},
		{"q11", sameAsReference(nexmark.Q11, reference.Q11)},
	} {
		t.Run(tc.name, tc.test)
	}
}

// sameAsReference returns the test that runs query over the events of
// testConfig at every parallelism and compares its results with those of
// ref over the same events.
func sameAsReference[T comparable](query func(stream.Stream[nexmark.Event]) stream.Stream[T], ref func([]nexmark.Event) []T) func(*testing.T) {
	return func(t *testing.T) {
		cfg := testConfig()
		want := ref(reference.Generate(cfg, cfg.Events))
		forParallelism(t, func(t *testing.T, p int) { sameMultiset(t, run(t, cfg, p, query), want) })
	}
}

// TestQ4 compares the final average of every category (the last update
// the query emitted for it) with the reference.
func TestQ4(t *testing.T) {
	cfg := testConfig()
	want := reference.Q4(reference.Generate(cfg, cfg.Events))
	forParallelism(t, func(t *testing.T, p int) {
		got := run(t, cfg, p, nexmark.Q4)
		final := map[int64]int64{}
		for _, r := range got {
			final[r.Category] = r.Avg
		}
		if len(final) != len(want) {
			t.Fatalf("final averages %v, want %v", final, want)
		}
		for c, avg := range want {
			if final[c] != avg {
				t.Errorf("category %d: average %d, want %d", c, final[c], avg)
			}
		}
	})
}

// TestQ12 checks totals only: which window a bid falls in depends on the
// clock.
func TestQ12(t *testing.T) {
	cfg := testConfig()
	want := reference.BidsPerBidder(reference.Generate(cfg, cfg.Events))
	forParallelism(t, func(t *testing.T, p int) {
		got := map[int64]int64{}
		for _, r := range run(t, cfg, p, nexmark.Q12) {
			if r.End-r.Start != nexmark.Q12Size.Milliseconds() || r.Start%r.End == 0 && r.Start != 0 {
				t.Fatalf("bad window [%d, %d)", r.Start, r.End)
			}
			got[r.Bidder] += r.Count
		}
		if len(got) != len(want) {
			t.Fatalf("%d bidders, want %d", len(got), len(want))
		}
		for b, n := range want {
			if got[b] != n {
				t.Errorf("bidder %d: %d bids, want %d", b, got[b], n)
			}
		}
	})
}

// TestExactlyOnceAfterFailures runs a join (q3) and a window query (q5)
// with checkpoints, fails the job a few times and checks that the
// committed output of an exactly-once sink equals the reference: the
// source resumes every split at its checkpointed event number.
func TestExactlyOnceAfterFailures(t *testing.T) {
	cfg := testConfig()
	events := reference.Generate(cfg, cfg.Events)
	t.Run("q3", func(t *testing.T) {
		exactlyOnce(t, cfg, nexmark.Q3, reference.Q3(events))
	})
	t.Run("q5", func(t *testing.T) {
		exactlyOnce(t, cfg, nexmark.Q5, reference.Q5(events))
	})
}

func exactlyOnce[T comparable](t *testing.T, cfg nexmark.Config, build func(stream.Stream[nexmark.Event]) stream.Stream[T], want []T) {
	forParallelism(t, func(t *testing.T, p int) {
		f := sluicetest.NewFailer(cfg.Events/5, cfg.Events/2, cfg.Events*4/5).Pause(50, 200*time.Microsecond)
		env := stream.New("nexmark-recovery", stream.WithParallelism(p), stream.WithLogger(quiet),
			stream.WithCheckpointing(10*time.Millisecond, ""),
			stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)), stream.WithMaxRepeatedFailures(-1))
		events, err := nexmark.Events(env, cfg)
		if err != nil {
			t.Fatal(err)
		}
		events = sluicetest.InjectFailures(events, f)
		sink := sluicetest.NewTxSink[T]()
		build(events).SinkTo("out", sink).UID("out")
		sluicetest.Run(t, env)
		if f.Failures() == 0 {
			t.Fatal("no failure was injected")
		}
		sameMultiset(t, sink.Values(), want)
		t.Logf("%d failures, %d commits", f.Failures(), sink.Commits())
	})
}
