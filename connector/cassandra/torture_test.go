package cassandra

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/cassandra/cqltest"
	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

func TestMain(m *testing.M) { crashtest.Main(m) }

func init() {
	crashtest.Register("cassandra-insert", func(ctx context.Context, e *crashtest.ChildEnv) error {
		return tortureJob(ctx, e, "INSERT INTO events (k, seq, body) VALUES (?, ?, ?)",
			func(i int64) []any { return []any{fmt.Sprintf("k%d", i%7), int(i), fmt.Sprintf("r%d", i)} })
	})
	crashtest.Register("cassandra-counter", func(ctx context.Context, e *crashtest.ChildEnv) error {
		return tortureJob(ctx, e, "UPDATE counts SET n = n + 1 WHERE k = ?",
			func(i int64) []any { return []any{fmt.Sprintf("r%d", i)} }, WriteAhead("torture/counter"), CommitChunk(8))
	})
}

// Parameters of the torture jobs.
const (
	tortureRate     = 500 // records per second per source subtask
	tortureParallel = 2
)

// tortureJob runs in the child process: generator of records 0..n-1
// (slowed unless the run should finish) -> Cassandra sink applying stmt
// with bind(i), at parallelism 2 with a checkpoint every 100ms. The
// stand-in cluster lives in the parent test process; its addresses come
// as a parameter.
func tortureJob(ctx context.Context, e *crashtest.ChildEnv, stmt string, bind func(int64) []any, opts ...Option) error {
	n, rate := e.Int("records", 0), e.Int("rate", tortureRate)
	if e.Finish {
		rate = 0
	}
	env := stream.New("cassandra-torture", append(e.Options(100*time.Millisecond), stream.WithParallelism(tortureParallel))...)
	snk, err := NewSink(stmt, func(i int64) ([]any, error) { return bind(i), nil },
		append([]Option{Hosts(strings.Split(e.Param("hosts"), ",")...), Keyspace("ks"),
			RetryBackoff(10*time.Millisecond, 200*time.Millisecond)}, opts...)...)
	if err != nil {
		return err
	}
	gen := collection.Generate(n, func(i int64) int64 { return i }, collection.Rate(float64(rate)))
	stream.FromSource(env, "generator", gen, eventtime.NoWatermarks[int64]()).UID("generator").
		SinkTo("cassandra", snk).UID("sink")
	return env.Execute(ctx)
}

func runTorture(t *testing.T, job string) (*cqltest.Cluster, int64) {
	t.Helper()
	cfg := crashtest.Resolve(t, crashtest.Config{Job: job, Kills: 6, MinUptime: 500 * time.Millisecond, MaxUptime: 1500 * time.Millisecond})
	n := int64(cfg.JobDuration().Seconds() * tortureRate * tortureParallel)
	cl := standIn(t, cqltest.Nodes(2))
	cl.CountStatements("INSERT INTO ks.events")
	cl.CountStatements("n = n + 1")
	cfg.Params = map[string]string{"hosts": strings.Join(cl.Addrs(), ","), "records": strconv.FormatInt(n, 10), "rate": strconv.Itoa(tortureRate)}
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	if res.Kills != cfg.Kills {
		t.Errorf("the harness killed the job %d times, want %d", res.Kills, cfg.Kills)
	}
	if res.Restores == 0 {
		t.Errorf("no run restored a checkpoint")
	}
	return cl, n
}

// TestTortureIdempotentInsert SIGKILLs a job writing one row per record
// with an idempotent INSERT (direct writes, flushed on every barrier)
// again and again; the table must hold every record's row exactly, with
// nothing else, although the runs after a restore wrote rows again.
func TestTortureIdempotentInsert(t *testing.T) {
	cl, n := runTorture(t, "cassandra-insert")
	got := rows(t, cl, "events")
	var lines, want []string
	for _, r := range got {
		lines = append(lines, fmt.Sprintf("%v/%v/%v", r["k"], r["seq"], r["body"]))
	}
	for i := range n {
		want = append(want, fmt.Sprintf("k%d/%d/r%d", i%7, i, i))
	}
	if d := crashtest.Compare(lines, want); !d.OK() {
		t.Fatalf("rows of %d records: %v", n, d)
	}
	t.Logf("%d rows exactly; the cluster received %d INSERTs (%d written again after restores)", n, cl.Count("INSERT INTO ks.events"), int64(cl.Count("INSERT INTO ks.events"))-n)
}

// TestTortureCounterExactlyOnce SIGKILLs a job that increments one
// counter per record in write-ahead mode, also between checkpoint
// completion and commit; every counter must be exactly 1.
func TestTortureCounterExactlyOnce(t *testing.T) {
	cl, n := runTorture(t, "cassandra-counter")
	var lines, want []string
	for _, r := range rows(t, cl, "counts") {
		for range r["n"].(int64) {
			lines = append(lines, r["k"].(string))
		}
	}
	for i := range n {
		want = append(want, fmt.Sprintf("r%d", i))
	}
	if d := crashtest.Compare(lines, want); !d.OK() {
		t.Fatalf("counters of %d records (each line a +1): %v", n, d)
	}
	markers, _ := cl.Store().Rows("ks", "sluice_commits_counts")
	left := map[string]int{}
	for _, m := range markers {
		left[fmt.Sprintf("%v/%v", m["subtask"], m["checkpoint"])]++
	}
	t.Logf("%d counters exactly 1; %d batches sent; markers left (subtask/checkpoint: chunks): %v", n, cl.Count("n = n + 1"), left)
	for _, m := range markers {
		if m["applied"] != int64(1) {
			t.Errorf("marker %v: a batch was applied more than once", m)
		}
	}
}
