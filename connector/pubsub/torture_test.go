package pubsub

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

func TestMain(m *testing.M) { crashtest.Main(m) }

func init() {
	crashtest.Register("pubsub-source", func(ctx context.Context, e *crashtest.ChildEnv) error {
		return sourceJob(ctx, e, false)
	})
	crashtest.Register("pubsub-source-dedupe", func(ctx context.Context, e *crashtest.ChildEnv) error {
		return sourceJob(ctx, e, true)
	})
	crashtest.Register("pubsub-sink", sinkJob)
}

// Parameters of the torture jobs.
const (
	tortureRate     = 400 // records per second per subtask in runs to be killed
	tortureParallel = 2
	// The subscription's and the source's ack deadline: what a killed
	// process held comes back a second after it died.
	tortureDeadline = time.Second
	// tortureIdle ends the source in the last run: well past the
	// redelivery of what the killed runs held.
	tortureIdle = 2500 * time.Millisecond
)

// rateFor is the pace of the killed runs: slower in long runs, whose
// jobs last minutes, so that the fake holds tens of thousands of
// messages rather than a hundred thousand (pstest scans every message of
// a subscription under one lock every 10ms).
func rateFor(cfg crashtest.Config) int {
	if cfg.Mode() == "long" {
		return 100
	}
	return tortureRate
}

// pace returns a map function that spaces records to rate per second in
// runs that are to be killed, and does nothing in runs that finish.
func pace[T any](e *crashtest.ChildEnv, rate int) func(T) T {
	if e.Finish {
		return func(v T) T { return v }
	}
	step := time.Second / time.Duration(rate)
	return func(v T) T {
		time.Sleep(step)
		return v
	}
}

// sourceJob runs in the child process: the Pub/Sub source (the fake lives
// in the parent test process) -> paced map -> (dedupe by message id) ->
// the exactly-once file sink of the harness, at parallelism 2, with a
// checkpoint every 100ms.
func sourceJob(ctx context.Context, e *crashtest.ChildEnv, dedupe bool) error {
	env := stream.New(e.Job, append(e.Options(100*time.Millisecond), stream.WithParallelism(tortureParallel))...)
	src, err := NewSource(Messages(), Project(testProject), Endpoint(e.Param("endpoint")), Subscription(e.Param("subscription")),
		AckDeadline(tortureDeadline), EndWhenIdle(tortureIdle), MaxOutstandingMessages(1000), ExpectCheckpoints(100*time.Millisecond, 0))
	if err != nil {
		return err
	}
	msgs := stream.Map(stream.FromSource(env, "pubsub", src, eventtime.NoWatermarks[Message]()), pace[Message](e, int(e.Int("rate", tortureRate))))
	if dedupe {
		msgs = stream.Deduplicate(msgs, func(m Message) string { return m.ID }, time.Hour)
	}
	stream.Map(msgs, func(m Message) string { return string(m.Data) }).SinkTo("out", crashtest.NewTxFileSink(e.Dir+"/out"))
	return env.Execute(ctx)
}

// sinkJob: a collection source of "0".."n-1" (exactly-once) -> paced map
// -> the Pub/Sub sink.
func sinkJob(ctx context.Context, e *crashtest.ChildEnv) error {
	env := stream.New(e.Job, append(e.Options(100*time.Millisecond), stream.WithParallelism(tortureParallel))...)
	n := e.Int("records", 0)
	src := collection.Generate(n, func(i int64) string { return strconv.FormatInt(i, 10) })
	snk, err := NewSink(StringSerializer(), Project(testProject), Endpoint(e.Param("endpoint")), Topic(e.Param("topic")))
	if err != nil {
		return err
	}
	stream.Map(stream.FromSource(env, "numbers", src, eventtime.NoWatermarks[string]()), pace[string](e, int(e.Int("rate", tortureRate)))).SinkTo("pubsub", snk)
	return env.Execute(ctx)
}

// atLeastOnce checks that got holds every number below n at least once
// and nothing else; it returns the number of repeats.
func atLeastOnce(t *testing.T, got []string, n int) (repeats int) {
	t.Helper()
	seen := make([]int, n)
	for _, s := range got {
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 || i >= n {
			t.Fatalf("output %q is not one of the inputs 0..%d", s, n-1)
		}
		seen[i]++
	}
	var missing []int
	for i, c := range seen {
		if c == 0 {
			missing = append(missing, i)
		}
		repeats += max(c-1, 0)
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d inputs missing from the output (a gap: at-least-once broken), e.g. %v", len(missing), n, missing[:min(len(missing), 10)])
	}
	return repeats
}

func numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// tortureSource runs the source job under SIGKILL with n messages in the
// subscription, held by the fake in this process.
func tortureSource(t *testing.T, job string) (got []string, n int, f *fake) {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: job, Kills: 4,
		MinUptime: time.Second, MaxUptime: 2 * time.Second})
	rate := rateFor(cfg)
	n = int(cfg.JobDuration().Seconds() * float64(rate) * tortureParallel)
	f = newFake(t)
	f.subscription(t, "torture", tortureDeadline, false)
	f.publishN(t, "torture", 0, n)
	cfg.Params = map[string]string{"endpoint": f.srv.Addr, "subscription": "torture", "rate": strconv.Itoa(rate)}
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	if res.Kills != cfg.Kills {
		t.Errorf("the harness killed the job %d times, want %d", res.Kills, cfg.Kills)
	}
	got, err := crashtest.ReadCommitted(res.Dir + "/out")
	if err != nil {
		t.Fatal(err)
	}
	return got, n, f
}

// TestTortureAtLeastOnce SIGKILLs a job reading the subscription again
// and again; its exactly-once output must hold every message at least
// once (the source is at-least-once).
func TestTortureAtLeastOnce(t *testing.T) {
	got, n, f := tortureSource(t, "pubsub-source")
	repeats := atLeastOnce(t, got, n)
	msgs, delivered, acked, _ := f.stats("torture")
	t.Logf("%d messages, each in the output at least once, %d repeats; %d deliveries, %d acks", msgs, repeats, delivered, acked)
	if acked < n {
		t.Errorf("%d of %d messages acknowledged at the end", acked, n)
	}
}

// TestTortureExactlyOnce: the same with deduplication by message id:
// every message exactly once.
func TestTortureExactlyOnce(t *testing.T) {
	got, n, f := tortureSource(t, "pubsub-source-dedupe")
	if d := crashtest.Compare(got, numbers(n)); !d.OK() {
		t.Fatalf("output of %d messages is not exactly once: %v", n, d)
	}
	_, delivered, acked, _ := f.stats("torture")
	t.Logf("%d messages exactly once; %d deliveries (%d redeliveries), %d acks", n, delivered, delivered-n, acked)
}

// TestTortureSink SIGKILLs a job publishing to a topic; the topic must
// hold every record at least once.
func TestTortureSink(t *testing.T) {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "pubsub-sink", Kills: 4,
		MinUptime: time.Second, MaxUptime: 2 * time.Second})
	rate := rateFor(cfg)
	n := int(cfg.JobDuration().Seconds() * float64(rate) * tortureParallel)
	f := newFake(t)
	f.topic(t, "sunk")
	cfg.Params = map[string]string{"endpoint": f.srv.Addr, "topic": "sunk", "records": strconv.Itoa(n), "rate": strconv.Itoa(rate)}
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	var got []string
	for _, m := range f.published("sunk") {
		got = append(got, string(m.Data))
	}
	repeats := atLeastOnce(t, got, n)
	t.Logf("%d records, each published at least once, %d repeats", n, repeats)
}
