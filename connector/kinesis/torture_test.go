package kinesis

import (
	"context"
	"math/big"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

// The SIGKILL torture of the source: the emulator runs in the test
// process, which writes the records while it splits and merges the
// stream again and again; the job (Kinesis source -> exactly-once file
// target, parallelism 2, a checkpoint every 100ms) runs as a child
// process that is killed at random moments and restarted from its latest
// checkpoint. Every record must reach the output exactly once.

func init() {
	crashtest.Register("kinesis-reshard", reshardJob)
}

const (
	tortureRate     = 400 // records per second through the job, except in runs that finish
	tortureParallel = 2
	endMarker       = "end"
)

// tortureLimiter spaces calls to a rate per second overall.
type tortureLimiter struct {
	mu   sync.Mutex
	step time.Duration
	next time.Time
}

func (l *tortureLimiter) wait() {
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

func reshardJob(ctx context.Context, e *crashtest.ChildEnv) error {
	env := stream.New("kinesis-reshard", append(e.Options(100*time.Millisecond), stream.WithParallelism(tortureParallel))...)
	src, err := NewSource(String(), Stream(e.Param("stream")), Endpoint(e.Param("endpoint")), Region("us-east-1"), testCreds(),
		PollInterval(20*time.Millisecond), DiscoveryInterval(300*time.Millisecond),
		EndOfStream(func(b []byte) bool { return string(b) == endMarker }))
	if err != nil {
		return err
	}
	s := stream.FromSource(env, "kinesis", src, eventtime.NoWatermarks[string]()).UID("source")
	if !e.Finish {
		l := &tortureLimiter{step: time.Second / tortureRate}
		s = stream.Map(s, func(v string) string { l.wait(); return v }).UID("limit")
	}
	s.SinkTo("out", crashtest.NewTxFileSink(e.Dir+"/out")).UID("sink")
	return env.Execute(ctx)
}

// TestTortureReshard: SIGKILLs during which the stream is resharded
// (UpdateShardCount: splits and merges) several times; the committed
// output holds every record exactly once.
func TestTortureReshard(t *testing.T) {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "kinesis-reshard", Kills: 5,
		MinUptime: 800 * time.Millisecond, MaxUptime: 2500 * time.Millisecond})
	ep := emulator(t)
	name := streamName(t.Name() + strconv.FormatInt(time.Now().UnixNano(), 36))
	createStream(t, ep, name, 2)
	cl := testClient(ep)
	dur := cfg.JobDuration()
	n := int(dur.Seconds() * tortureRate)
	cfg.Params = map[string]string{"endpoint": ep, "stream": name}

	// The producer writes the records in chunks over about half the job's
	// duration, resharding between chunks, then ends every open shard with
	// the end marker.
	counts := []int32{3, 2, 4, 2, 3, 1, 2}
	chunks := len(counts) + 1
	done := make(chan struct{})
	var reshards int
	go func() {
		defer close(done)
		step := dur / 2 / time.Duration(chunks)
		for c := range chunks {
			putAll(t, cl, name, numberEntries(c*n/chunks, (c+1)*n/chunks, 11, 1+c%3))
			if c < len(counts) {
				reshard(t, cl, name, counts[c])
				reshards++
			}
			time.Sleep(step)
		}
		endOpenShards(t, cl, name)
	}()
	res := crashtest.Run(t, cfg)
	<-done
	t.Log(res.Summary())
	if res.Kills != cfg.Kills {
		t.Errorf("the harness killed the job %d times, want %d", res.Kills, cfg.Kills)
	}
	if res.Restores == 0 {
		t.Errorf("no run restored a checkpoint")
	}
	got, err := crashtest.ReadCommitted(res.Dir + "/out")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, n)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	if d := crashtest.Compare(got, want); !d.OK() {
		t.Fatalf("output of %d records over %d reshards is not exactly once: %v", n, reshards, d)
	}
	t.Logf("%d records exactly once across %d reshards (%d shards in all)", n, reshards, countShards(t, cl, name))
}

// endOpenShards writes the end marker into every open shard (by explicit
// hash key, the shard's first hash key).
func endOpenShards(t testing.TB, cl *kinesis.Client, name string) {
	ls, err := cl.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Errorf("list shards: %v", err)
		return
	}
	var ents []types.PutRecordsRequestEntry
	for _, s := range ls.Shards {
		if aws.ToString(s.SequenceNumberRange.EndingSequenceNumber) != "" {
			continue
		}
		start, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		ents = append(ents, types.PutRecordsRequestEntry{Data: []byte(endMarker), PartitionKey: aws.String("end"),
			ExplicitHashKey: aws.String(start.String())})
	}
	putAll(t, cl, name, ents)
}

func countShards(t testing.TB, cl *kinesis.Client, name string) int {
	ls, err := cl.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return len(ls.Shards)
}
