package nexmark_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/nexmark"
)

func TestRunBenchJSON(t *testing.T) {
	dir := t.TempDir()
	r, err := nexmark.RunBench(context.Background(), nexmark.BenchOptions{
		Query: "q5", Events: 20_000, Parallelism: 2, CheckpointInterval: 10 * time.Millisecond, CheckpointDir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(m))
	want := []string{"cpu_seconds", "events", "events_per_cpu_sec", "events_per_sec", "parallelism", "peak_rss_bytes", "query", "seconds"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if r.Query != "q5" || r.Events != 20_000 || r.Parallelism != 2 || r.Results == 0 || r.Seconds <= 0 || r.PeakRSSBytes <= 0 || r.Checkpoints < 1 {
		t.Fatalf("%s", b)
	}
	if _, err := nexmark.RunBench(context.Background(), nexmark.BenchOptions{Query: "q99"}); err == nil {
		t.Fatal("unknown query: no error")
	}
}
