package kafka

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

func TestMain(m *testing.M) { crashtest.Main(m) }

func init() {
	crashtest.Register("kafka-keyed-count", tortureJob)
}

// Parameters of the torture job.
const (
	tortureKeys     = 13
	tortureRate     = 1000 // records per second per source subtask
	tortureParallel = 2
	tortureIn       = "torture-in"
	tortureOut      = "torture-out"
)

// limiter spaces calls to rate per second overall.
type limiter struct {
	mu   sync.Mutex
	step time.Duration
	next time.Time
}

func (l *limiter) wait() error {
	l.mu.Lock()
	now := time.Now()
	l.next = later(l.next, now).Add(l.step)
	d := l.next.Sub(now)
	l.mu.Unlock()
	if d > 2*time.Millisecond {
		time.Sleep(d)
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tortureJob runs in the child process: Kafka source (the input topic,
// bounded) -> key by index % keys -> running count -> exactly-once Kafka
// sink, at parallelism 2 with a checkpoint every 100ms. The cluster lives
// in the parent test process; its address comes as a parameter.
func tortureJob(ctx context.Context, e *crashtest.ChildEnv) error {
	addr, keys, rate := e.Param("addr"), e.Int("keys", tortureKeys), e.Int("rate", tortureRate)
	env := stream.New("kafka-torture", append(e.Options(100*time.Millisecond), stream.WithParallelism(tortureParallel))...)
	src, err := NewSource(String(), Brokers(addr), Topics(tortureIn), Bounded(), Group("torture"))
	if err != nil {
		return err
	}
	snk, err := NewSink(StringSerializer(tortureOut), Brokers(addr), ExactlyOnce("torture"),
		ExpectCheckpoints(100*time.Millisecond, 0))
	if err != nil {
		return err
	}
	var hook func() error
	if !e.Finish {
		hook = (&limiter{step: time.Second / time.Duration(rate*tortureParallel)}).wait
	} else {
		hook = func() error { return nil }
	}
	countJob(env, src, snk, keys, hook)
	return env.Execute(ctx)
}

// TestTortureExactlyOnce SIGKILLs the Kafka keyed count again and again,
// also between checkpoint completion and commit, restarting it from its
// latest checkpoint; a read_committed consumer must then see every input's
// effect exactly once, with no transaction left open.
func TestTortureExactlyOnce(t *testing.T) {
	// Runs live long enough to get past the start (clients, metadata,
	// producer ids) and write records that a kill leaves in open
	// transactions.
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "kafka-keyed-count", Kills: 6,
		MinUptime: 800 * time.Millisecond, MaxUptime: 2500 * time.Millisecond})
	n := int64(cfg.JobDuration().Seconds() * tortureRate * tortureParallel)
	_, addr := newCluster(t, 4, tortureIn, tortureOut)
	produceN(t, addr, tortureIn, 4, 0, int(n))
	cfg.Params = map[string]string{
		"addr": addr,
		"keys": strconv.Itoa(tortureKeys),
		"rate": strconv.Itoa(tortureRate),
	}
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	if res.Kills != cfg.Kills {
		t.Errorf("the harness killed the job %d times, want %d", res.Kills, cfg.Kills)
	}
	if res.Restores == 0 {
		t.Errorf("no run restored a checkpoint")
	}
	got := values(consume(t, addr, tortureOut, true))
	if d := crashtest.Compare(got, expectedCounts(n, tortureKeys)); !d.OK() {
		t.Fatalf("read_committed output of %d inputs is not exactly once: %v", n, d)
	}
	waitFor(t, 10*time.Second, func() bool { return stable(t, addr, tortureOut) }, "no open transaction on "+tortureOut)
	all := len(consume(t, addr, tortureOut, false))
	t.Logf("%d records exactly once; %d more records in the log in aborted transactions", len(got), all-len(got))
}
