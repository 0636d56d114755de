package baseline_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice/nexmark"
	"github.com/sluicehq/sluice/nexmark/baseline"
	"github.com/sluicehq/sluice/nexmark/internal/reference"
)

var cfg = nexmark.Config{Seed: 5, Events: 30_000, Rate: 500}

func generator(t *testing.T) *nexmark.Generator {
	t.Helper()
	g, err := nexmark.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// collect runs a loop and returns what it emitted.
func collect[T any](t *testing.T, loop func(*nexmark.Generator, int64, func(T))) []T {
	var out []T
	loop(generator(t), cfg.Events, func(v T) { out = append(out, v) })
	return out
}

func sameMultiset[T comparable](t *testing.T, got, want []T) {
	t.Helper()
	counts := map[T]int{}
	for _, v := range want {
		counts[v]++
	}
	for _, v := range got {
		counts[v]--
	}
	for v, c := range counts {
		if c != 0 {
			t.Fatalf("%+v: %d more in the results than expected (got %d results, want %d)", v, -c, len(got), len(want))
		}
	}
	if len(want) == 0 {
		t.Fatal("the reference has no results")
	}
}

func TestLoopsMatchReference(t *testing.T) {
	events := reference.Generate(cfg, cfg.Events)
	t.Run("q0", func(t *testing.T) { sameMultiset(t, collect(t, baseline.Q0), reference.Q0(events)) })
	t.Run("q1", func(t *testing.T) { sameMultiset(t, collect(t, baseline.Q1), reference.Q1(events)) })
	t.Run("q2", func(t *testing.T) { sameMultiset(t, collect(t, baseline.Q2), reference.Q2(events)) })
	t.Run("q3", func(t *testing.T) { sameMultiset(t, collect(t, baseline.Q3), reference.Q3(events)) })
	t.Run("q4", func(t *testing.T) {
		final := map[int64]int64{}
		for _, r := range collect(t, baseline.Q4) {
			final[r.Category] = r.Avg
		}
		want := reference.Q4(events)
		if len(final) != len(want) {
			t.Fatalf("final averages %v, want %v", final, want)
		}
		for c, avg := range want {
			if final[c] != avg {
				t.Errorf("category %d: %d, want %d", c, final[c], avg)
			}
		}
	})
	t.Run("q5", func(t *testing.T) { sameMultiset(t, collect(t, baseline.Q5), reference.Q5(events)) })
	t.Run("q7", func(t *testing.T) { sameMultiset(t, collect(t, baseline.Q7), reference.Q7(events)) })
	t.Run("q8", func(t *testing.T) { sameMultiset(t, collect(t, baseline.Q8), reference.Q8(events)) })
	t.Run("q11", func(t *testing.T) { sameMultiset(t, collect(t, baseline.Q11), reference.Q11(events)) })
	t.Run("q12", func(t *testing.T) {
		// A clock that moves 1 s per call: windows fire along the way.
		now := int64(1_000_000)
		clock := func() int64 { now += 1000; return now }
		got := map[int64]int64{}
		windows := map[int64]bool{}
		baseline.Q12(generator(t), cfg.Events, clock, func(r nexmark.Q12Result) {
			got[r.Bidder] += r.Count
			windows[r.Start] = true
		})
		want := reference.BidsPerBidder(events)
		if len(got) != len(want) || len(windows) < 2 {
			t.Fatalf("%d bidders in %d windows, want %d bidders", len(got), len(windows), len(want))
		}
		for b, n := range want {
			if got[b] != n {
				t.Errorf("bidder %d: %d bids, want %d", b, got[b], n)
			}
		}
	})
}

func TestRunReportsJSON(t *testing.T) {
	r, err := baseline.Run(context.Background(), nexmark.BenchOptions{Query: "q2", Events: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	if r.Events != 20_000 || r.Parallelism != 1 || r.Results == 0 || r.CPUSeconds <= 0 {
		t.Fatalf("%+v", r)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if _, err := baseline.Run(context.Background(), nexmark.BenchOptions{Query: "q6"}); err == nil {
		t.Fatal("unknown query: no error")
	}
}
