package redis

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

func TestMain(m *testing.M) { crashtest.Main(m) }

func init() {
	crashtest.Register("redis-sink", tortureJob)
}

// Parameters of the torture job.
const (
	tortureKeys     = 13
	tortureRate     = 1000 // records per second per source subtask
	tortureParallel = 2
)

// tortureJob runs in the child process: generator of records 0..n-1
// (slowed, except in the run that should finish) -> the Redis sink at
// parallelism 2 with a checkpoint every 100ms. Parameter op: incrby adds
// 1 to <prefix>k<i % keys>; rpush appends i to <prefix>list. Parameter
// exactly: 1 for delivery exactly-once.
func tortureJob(ctx context.Context, e *crashtest.ChildEnv) error {
	n, keys, rate := e.Int("records", 0), e.Int("keys", tortureKeys), e.Int("rate", tortureRate)
	env := stream.New("redis-torture", append(e.Options(100*time.Millisecond), stream.WithParallelism(tortureParallel))...)
	if e.Finish {
		rate = 0
	}
	p, op := e.Param("prefix"), Op(e.Param("op"))
	opts := []Option{URL(e.Param("url")), FencePrefix(p + "fence:"), MaxTransactionCommands(100)}
	if m := e.Param("mode"); m != "" {
		opts = append(opts, WithMode(Mode(m)))
	}
	if e.Param("exactly") == "1" {
		opts = append(opts, ExactlyOnce())
	}
	snk, err := NewSink(op, func(i int64) (Command, error) {
		if op == IncrBy {
			return Command{Key: fmt.Sprintf("%sk%d", p, i%keys), By: 1}, nil
		}
		return Command{Key: p + "list", Value: strconv.FormatInt(i, 10)}, nil
	}, opts...)
	if err != nil {
		return err
	}
	gen := collection.Generate(n, func(i int64) int64 { return i }, collection.Rate(float64(rate)))
	stream.FromSource(env, "generator", gen, eventtime.NoWatermarks[int64]()).UID("generator").
		SinkTo("redis", snk).UID("sink")
	return env.Execute(ctx)
}

// torture runs the job under SIGKILL against the shared server and
// returns the number of records and the test's key prefix.
func torture(t *testing.T, op Op, exactly bool) (int64, string) {
	u, cl := needRedis(t)
	p := prefix(t, cl)
	return tortureAt(t, u, "", p, op, exactly), p
}

// tortureAt runs the job under SIGKILL against the server at u in mode,
// with key prefix p, and returns the number of records.
func tortureAt(t *testing.T, u string, mode Mode, p string, op Op, exactly bool) int64 {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "redis-sink", Kills: 6})
	n := int64(cfg.JobDuration().Seconds() * tortureRate * tortureParallel)
	cfg.Params = map[string]string{
		"url": u, "prefix": p, "op": string(op),
		"records": strconv.FormatInt(n, 10), "keys": strconv.Itoa(tortureKeys), "rate": strconv.Itoa(tortureRate),
	}
	if exactly {
		cfg.Params["exactly"] = "1"
	}
	if mode != "" {
		cfg.Params["mode"] = string(mode)
	}
	res := crashtest.Run(t, cfg)
	if res.Kills != cfg.Kills {
		t.Errorf("the harness killed the job %d times, want %d", res.Kills, cfg.Kills)
	}
	if res.Restores == 0 {
		t.Errorf("no run restored a checkpoint")
	}
	if exactly && res.HookKills == 0 && cfg.Kills >= 2 {
		t.Errorf("no run was killed between checkpoint completion and commit")
	}
	return n
}

// TestTortureIncrByExactlyOnce SIGKILLs a job that counts records per key
// with INCRBY and delivery exactly-once, also between checkpoint completion
// and commit: every counter must end at the number of records with its
// key.
func TestTortureIncrByExactlyOnce(t *testing.T) {
	n, p := torture(t, IncrBy, true)
	_, cl := needRedis(t)
	checkCounters(t, cl, n, p)
}

// TestTortureIncrByExactlyOnceCluster is TestTortureIncrByExactlyOnce on
// a three-node Redis Cluster, whose counters are spread over its slots.
func TestTortureIncrByExactlyOnceCluster(t *testing.T) {
	u, cc := startCluster(t)
	n := tortureAt(t, u, Cluster, "t:", IncrBy, true)
	checkCounters(t, cc, n, "t:")
}

func checkCounters(t *testing.T, cl redis.UniversalClient, n int64, p string) {
	var got, want []string
	for k := range int64(tortureKeys) {
		v, err := cl.Get(context.Background(), fmt.Sprintf("%sk%d", p, k)).Result()
		if err != nil {
			t.Fatalf("key k%d: %v", k, err)
		}
		got = append(got, fmt.Sprintf("k%d=%s", k, v))
		want = append(want, fmt.Sprintf("k%d=%d", k, (n-k+tortureKeys-1)/tortureKeys))
	}
	if d := crashtest.Compare(got, want); !d.OK() {
		t.Fatalf("counters of %d records are not exactly the input counts: %v", n, d)
	}
	t.Logf("%d records: %v", n, got)
}

// TestTortureRPushExactlyOnce: RPUSH with delivery exactly-once; the list
// holds every record exactly once.
func TestTortureRPushExactlyOnce(t *testing.T) {
	n, p := torture(t, RPush, true)
	got := readList(t, p+"list")
	if d := crashtest.Compare(got, numbers(n)); !d.OK() {
		t.Fatalf("list of %d records is not exactly once: %v", n, d)
	}
}

// TestTortureRPushAtLeastOnce: RPUSH at-least-once; the list holds every
// record at least once, and nothing else.
func TestTortureRPushAtLeastOnce(t *testing.T) {
	n, p := torture(t, RPush, false)
	got := readList(t, p+"list")
	seen := map[string]bool{}
	var uniq []string
	for _, v := range got {
		if !seen[v] {
			seen[v] = true
			uniq = append(uniq, v)
		}
	}
	if d := crashtest.Compare(uniq, numbers(n)); !d.OK() {
		t.Fatalf("list of %d records misses records or holds others: %v", n, d)
	}
	t.Logf("%d records, %d entries in the list (%d repeated after restores)", n, len(got), len(got)-len(uniq))
}

func readList(t *testing.T, key string) []string {
	_, cl := needRedis(t)
	got, err := cl.LRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func numbers(n int64) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}
