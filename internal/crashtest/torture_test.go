package crashtest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

func TestMain(m *testing.M) { crashtest.Main(m) }

func init() {
	crashtest.Register("keyed-count", keyedCountJob)
}

// Parameters of the keyed-count job.
const (
	countKeys     = 13
	countRate     = 1000 // records per second per source subtask
	countParallel = 2
)

type keyCount struct {
	Key, Count int64
}

// keyedCountJob: generator of records 0..n-1 (slowed to rate per second per
// subtask, except in the last run) -> key by i % keys -> running count ->
// "key=count" -> TxFileSink, at parallelism 2 with a checkpoint every 100ms
// (parameters parallelism and interval-ms change them).
func keyedCountJob(ctx context.Context, e *crashtest.ChildEnv) error {
	n, keys, rate := e.Int("records", 0), e.Int("keys", countKeys), e.Int("rate", countRate)
	par, interval := e.Int("parallelism", countParallel), time.Duration(e.Int("interval-ms", 100))*time.Millisecond
	opts := append(e.Options(interval), stream.WithParallelism(int(par)))
	if e.Int("incremental", 0) == 1 {
		opts = append(opts, stream.WithIncrementalCheckpoints())
	}
	env := stream.New("crashtest-keyed-count", opts...)
	if e.Finish {
		rate = 0 // the run should reach the end: at full speed
	}
	gen := collection.Generate(n, func(i int64) int64 { return i }, collection.Rate(float64(rate)))
	src := stream.FromSource(env, "generator", gen, eventtime.NoWatermarks[int64]()).UID("generator")
	pairs := stream.Map(src, func(i int64) keyCount { return keyCount{Key: i % keys, Count: 1} }).UID("pair")
	counts := stream.Reduce(stream.KeyBy(pairs, func(v keyCount) int64 { return v.Key }),
		func(acc, v keyCount) keyCount { return keyCount{Key: acc.Key, Count: acc.Count + v.Count} }).UID("count")
	stream.Map(counts, func(v keyCount) string { return fmt.Sprintf("%d=%d", v.Key, v.Count) }).UID("format").
		SinkTo("out", crashtest.NewTxFileSink(filepath.Join(e.Dir, "out"))).UID("sink")
	return env.Execute(ctx)
}

// expectedCounts is the failure-free output of keyedCountJob: for every key
// k the lines k=1 .. k=n_k.
func expectedCounts(n, keys int64) []string {
	var out []string
	for k := range min(n, keys) {
		nk := (n - k + keys - 1) / keys // i in [0, n) with i % keys == k
		for c := int64(1); c <= nk; c++ {
			out = append(out, fmt.Sprintf("%d=%d", k, c))
		}
	}
	return out
}

// TestTortureKeyedCount SIGKILLs a keyed running count with an exactly-once
// file sink again and again, also between checkpoint completion and commit,
// and checks that the committed output is exactly the failure-free output.
func TestTortureKeyedCount(t *testing.T) {
	tortureKeyedCount(t, countKeys, false)
}

// TestTortureKeyedCountIncremental is TestTortureKeyedCount with
// incremental checkpoints over more keys than change between two
// checkpoints, so that most checkpoints are deltas and every restore reads
// a chain of them.
func TestTortureKeyedCountIncremental(t *testing.T) {
	tortureKeyedCount(t, 1500, true)
}

func tortureKeyedCount(t *testing.T, keys int64, incremental bool) {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "keyed-count", Kills: 6})
	n := int64(cfg.JobDuration().Seconds() * countRate * countParallel)
	cfg.Params = map[string]string{
		"records": strconv.FormatInt(n, 10),
		"keys":    strconv.FormatInt(keys, 10),
		"rate":    strconv.Itoa(countRate),
	}
	if incremental {
		cfg.Params["incremental"] = "1"
	}
	res := crashtest.Run(t, cfg)

	if res.Kills != cfg.Kills {
		t.Errorf("the harness killed the job %d times, want %d", res.Kills, cfg.Kills)
	}
	if res.HookKills == 0 && cfg.Kills >= 2 {
		t.Errorf("no run was killed in the checkpoint-completed hook")
	}
	if res.Restores == 0 {
		t.Errorf("no run restored a checkpoint")
	}
	if last := res.Runs[len(res.Runs)-1]; last.Killed || last.Restored == 0 {
		t.Errorf("the last run (%v) should have restored a checkpoint and finished", last)
	}
	if incremental {
		deltas := 0
		for _, r := range res.Runs {
			deltas += r.RestoredDeltas
		}
		if deltas == 0 {
			t.Errorf("no run restored an incremental checkpoint with deltas")
		}
		t.Logf("restores read %d delta files", deltas)
	}

	out := filepath.Join(res.Dir, "out")
	files, err := crashtest.ReadCommittedFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	where := map[string][]string{} // line -> files holding it
	for name, lines := range files {
		for _, l := range lines {
			got = append(got, l)
			where[l] = append(where[l], name)
		}
	}
	d := crashtest.Compare(got, expectedCounts(n, keys))
	if !d.OK() {
		var b strings.Builder
		for i, dup := range d.Duplicated {
			if i == 10 {
				break
			}
			fs := where[dup.Line]
			slices.Sort(fs)
			fmt.Fprintf(&b, "\n  %q is in %s", dup.Line, strings.Join(fs, ", "))
		}
		t.Errorf("committed output of %d records over %d keys is not exactly once: %v%s", n, keys, d, b.String())
	}
	pending, err := crashtest.PendingFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lines in %d committed files; %d pending files left by killed runs", len(got), len(files), len(pending))
}
