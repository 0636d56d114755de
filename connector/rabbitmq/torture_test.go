package rabbitmq

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

func TestMain(m *testing.M) { crashtest.Main(m) }

func init() {
	crashtest.Register("rabbitmq-source", sourceJob)
	crashtest.Register("rabbitmq-sink", sinkJob)
}

// Parameters of the torture jobs.
const (
	tortureRate     = 400 // messages per second, all subtasks together
	tortureInterval = 100 * time.Millisecond
)

// limiter spaces calls to one per step.
type limiter struct {
	mu   sync.Mutex
	step time.Duration
	next time.Time
}

func (l *limiter) wait() {
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(l.step)
	d := l.next.Sub(now)
	l.mu.Unlock()
	if d > 2*time.Millisecond {
		time.Sleep(d)
	}
}

// sourceJob runs in the child process: the queue (parameter queue) read
// by the source at parallelism par, in mode "at-least-once", "ids"
// (exactly-once by correlation id in reader state) or "keyed"
// (exactly-once by correlation id, stream.Deduplicate), the bodies
// written to a TxFileSink under the job's directory. It is slowed down
// unless told to finish, and stops itself once the output holds every one
// of the n messages and the queue has none ready.
func sourceJob(ctx context.Context, e *crashtest.ChildEnv) error {
	par, n, queue, mode := int(e.Int("par", 1)), int(e.Int("n", 0)), e.Param("queue"), e.Param("mode")
	env := stream.New("rabbitmq-source-"+mode, append(e.Options(tortureInterval), stream.WithParallelism(par))...)
	opts := []SourceOption{URL(e.Param("url")), Queue(queue), Prefetch(100), ExpectCheckpoints(tortureInterval, 0),
		Reconnect(50*time.Millisecond, time.Second, 5)}
	switch mode {
	case "ids":
		opts = append(opts, DedupeBy(CorrelationID))
	case "keyed":
		opts = append(opts, DedupeBy(CorrelationID), KeyedDedupe(time.Minute))
	}
	src, err := NewSource(Messages(), opts...)
	if err != nil {
		return err
	}
	s := stream.FromSource(env, "rabbitmq", src, eventtime.NoWatermarks[Message]()).UID("source")
	if !e.Finish {
		l := &limiter{step: time.Second / tortureRate}
		s = stream.Map(s, func(m Message) Message { l.wait(); return m }).UID("slow")
	}
	if mode == "keyed" {
		s = stream.Deduplicate(s, func(m Message) string { return m.ID }, time.Minute).UID("dedupe")
	}
	out := filepath.Join(e.Dir, "out")
	stream.Map(s, func(m Message) string { return string(m.Body) }).UID("body").
		SinkTo("out", crashtest.NewTxFileSink(out)).UID("sink")
	job, err := env.Start(ctx)
	if err != nil {
		return err
	}
	go stopWhenDone(ctx, job, out, e.Param("url"), queue, n)
	return job.Wait()
}

// stopWhenDone stops job once dir's committed output holds n distinct
// lines and queue has no ready message.
func stopWhenDone(ctx context.Context, job interface {
	Stop(context.Context) (string, error)
	Done() <-chan struct{}
}, dir, url, queue string, n int) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-job.Done():
			return
		case <-tick.C:
		}
		lines, err := crashtest.ReadCommitted(dir)
		if err != nil || len(distinct(lines)) < n {
			continue
		}
		if ready, err := readyCount(url, queue); err != nil || ready > 0 {
			continue
		}
		_, _ = job.Stop(ctx)
		return
	}
}

func distinct(lines []string) map[string]int {
	m := map[string]int{}
	for _, l := range lines {
		m[l]++
	}
	return m
}

// readyCount returns the messages ready in queue (passive declare).
func readyCount(url, queue string) (int, error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	return q.Messages, err
}

func numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// tortureSource SIGKILLs the job of mode reading a queue of kind at
// parallelism par again and again, and checks its committed output record
// by record, and that every message was acknowledged in the end.
func tortureSource(t *testing.T, mode, kind string, par int) {
	a := newAdmin(t)
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "rabbitmq-source", Kills: 5,
		MinUptime: 600 * time.Millisecond, MaxUptime: 2 * time.Second})
	n := int(cfg.JobDuration().Seconds() * tortureRate)
	q := a.queue("torture-"+mode, kind, nil)
	a.publish(q, 0, n)
	cfg.Params = map[string]string{"url": testURL(), "queue": q, "n": strconv.Itoa(n),
		"par": strconv.Itoa(par), "mode": mode}
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	if res.Restores == 0 {
		t.Errorf("no run restored a checkpoint")
	}
	got, err := crashtest.ReadCommitted(filepath.Join(res.Dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if mode == "at-least-once" {
		seen := distinct(got)
		for _, w := range numbers(n) {
			if seen[w] == 0 {
				t.Errorf("message %s lost", w)
			}
			delete(seen, w)
		}
		if len(seen) > 0 {
			t.Errorf("output holds lines no message had: %v", seen)
		}
		t.Logf("%d messages, %d output lines (%d repeated after kills)", n, len(got), len(got)-n)
	} else if d := crashtest.Compare(got, numbers(n)); !d.OK() {
		t.Fatalf("output of %d messages is not exactly once: %v", n, d)
	} else {
		t.Logf("%d messages exactly once", n)
	}
	waitFor(t, 10*time.Second, "every message acknowledged", func() bool {
		ready, err := readyCount(testURL(), q)
		return err == nil && ready == 0
	})
}

// TestTortureAtLeastOnce: without dedupe_by, no message is lost.
func TestTortureAtLeastOnce(t *testing.T) { tortureSource(t, "at-least-once", "classic", 2) }

// TestTortureExactlyOnceIDs: ids in reader state, parallelism 1 (Flink's
// way): each message exactly once.
func TestTortureExactlyOnceIDs(t *testing.T) { tortureSource(t, "ids", "classic", 1) }

// TestTortureExactlyOnceKeyed: three consumers of one quorum queue and the
// keyed deduplication stage: each message exactly once.
func TestTortureExactlyOnceKeyed(t *testing.T) { tortureSource(t, "keyed", "quorum", 3) }

// sinkJob runs in the child: a bounded collection of the numbers 0..n-1
// (exactly-once source) published by the sink at parallelism 2 to queue
// through the default exchange.
func sinkJob(ctx context.Context, e *crashtest.ChildEnv) error {
	n, queue := e.Int("n", 0), e.Param("queue")
	env := stream.New("rabbitmq-sink", append(e.Options(tortureInterval), stream.WithParallelism(2))...)
	var opts []collection.Option
	if !e.Finish {
		opts = append(opts, collection.Rate(tortureRate/2))
	}
	src := collection.Generate(n, func(i int64) string { return strconv.FormatInt(i, 10) }, opts...)
	snk, err := NewSink(StringSerializer(), URL(e.Param("url")), RoutingKey(queue))
	if err != nil {
		return err
	}
	stream.FromSource(env, "numbers", src, eventtime.NoWatermarks[string]()).UID("source").
		SinkTo("rabbitmq", snk).UID("sink")
	return env.Execute(ctx)
}

// TestTortureSink: the sink's output, after SIGKILLs, holds every record
// at least once and nothing else.
func TestTortureSink(t *testing.T) {
	a := newAdmin(t)
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "rabbitmq-sink", Kills: 5,
		MinUptime: 600 * time.Millisecond, MaxUptime: 2 * time.Second})
	n := int(cfg.JobDuration().Seconds() * tortureRate)
	q := a.queue("torture-sink", "classic", nil)
	cfg.Params = map[string]string{"url": testURL(), "queue": q, "n": strconv.Itoa(n)}
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	got := drain(t, a, q)
	seen := distinct(got)
	for _, w := range numbers(n) {
		if seen[w] == 0 {
			t.Errorf("record %s lost", w)
		}
		delete(seen, w)
	}
	if len(seen) > 0 {
		t.Errorf("queue holds messages no record made: %v", seen)
	}
	t.Logf("%d records, %d messages (%d repeated after kills)", n, len(got), len(got)-n)
}

// drain takes every message of queue.
func drain(t testing.TB, a *admin, queue string) []string {
	t.Helper()
	var out []string
	for {
		d, ok, err := a.ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, string(d.Body))
	}
}
