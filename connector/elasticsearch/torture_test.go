package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

func TestMain(m *testing.M) { crashtest.Main(m) }

func init() {
	crashtest.Register("elasticsearch-sinks", tortureJob)
}

// Parameters of the torture job.
const (
	tortureRate     = 400 // records per second per source subtask
	tortureParallel = 2
	tortureKeys     = 11
	tortureStep     = int64(time.Minute / time.Millisecond) // event time between records
)

var tortureBase = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// tortureJob runs in the child process: records 0..n-1 with event times a
// minute apart, at parallelism 2 with a checkpoint every 100ms, into four
// elasticsearch sinks on the stand-in that lives in the parent test
// process:
//   - records-{yyyy.MM.dd}: one document per record, id r<i> (exactly-once)
//   - counts: a running count per key i % 11, id k<key>, external version =
//     the count (exactly-once)
//   - counts-ordered: the same without versions: replays and retries must
//     keep the order of the writes per id (exactly-once)
//   - plain: one document per record without id (at-least-once)
func tortureJob(ctx context.Context, e *crashtest.ChildEnv) error {
	url, n, rate := e.Param("url"), e.Int("records", 0), e.Int("rate", tortureRate)
	env := stream.New("elasticsearch-torture", append(e.Options(100*time.Millisecond), stream.WithParallelism(tortureParallel))...)
	if e.Finish {
		rate = 0
	}
	gen := collection.Generate(n, func(i int64) int64 { return i }, collection.Rate(float64(rate)),
		collection.Timestamps(func(i int64) int64 { return tortureBase + i*tortureStep }))
	src := stream.FromSource(env, "generator", gen, eventtime.NoWatermarks[int64]()).UID("generator")
	opts := func(more ...Option) []Option {
		return append([]Option{URLs(url), BatchActions(50), Concurrency(2), FlushInterval(20 * time.Millisecond),
			Retries(20, 5*time.Millisecond, 100*time.Millisecond)}, more...)
	}
	recs := stream.Map(src, func(i int64) doc { return doc{ID: "r" + strconv.FormatInt(i, 10), N: i} }).UID("records")
	s1, err := NewSink(JSON[doc](), opts(Index("records-{yyyy.MM.dd}"), ID(docID))...)
	if err != nil {
		return err
	}
	recs.SinkTo("records", s1).UID("records-sink")

	counts := stream.Reduce(stream.KeyBy(stream.Map(src, func(i int64) doc { return doc{ID: "k" + strconv.FormatInt(i%tortureKeys, 10), N: 1} }).UID("ones"),
		func(d doc) string { return d.ID }), func(a, b doc) doc { return doc{ID: a.ID, N: a.N + b.N} }).UID("count")
	s2, err := NewSink(JSON[doc](), opts(Index("counts"), ID(docID), Version(func(d doc) (int64, error) { return d.N, nil }))...)
	if err != nil {
		return err
	}
	counts.SinkTo("counts", s2).UID("counts-sink")
	s3, err := NewSink(JSON[doc](), opts(Index("counts-ordered"), ID(docID))...)
	if err != nil {
		return err
	}
	counts.SinkTo("counts-ordered", s3).UID("counts-ordered-sink")

	s4, err := NewSink(JSON[doc](), opts(Index("plain"))...)
	if err != nil {
		return err
	}
	stream.Map(src, func(i int64) doc { return doc{N: i} }).UID("plain").SinkTo("plain", s4).UID("plain-sink")
	return env.Execute(ctx)
}

// TestTortureSinks SIGKILLs the job again and again and checks what the
// stand-in holds: with ids, every document exactly once with its final
// value; without, every record at least once and nothing else. Injected
// 429 and 503 items make the sinks retry all along.
func TestTortureSinks(t *testing.T) {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "elasticsearch-sinks", Kills: 5,
		MinUptime: 600 * time.Millisecond, MaxUptime: 2 * time.Second})
	n := int64(cfg.JobDuration().Seconds() * tortureRate * tortureParallel)
	srv := newServer(t)
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(1, 2))
	srv.SetItemFault(func(estest.Action) int {
		mu.Lock()
		defer mu.Unlock()
		switch p := rnd.Float64(); {
		case p < 0.02:
			return 429
		case p < 0.025:
			return 503
		}
		return 0
	})
	cfg.Params = map[string]string{"url": srv.URL, "records": strconv.FormatInt(n, 10), "rate": strconv.Itoa(tortureRate)}
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	if res.Restores == 0 {
		t.Errorf("no run restored a checkpoint")
	}

	// records-*: every record exactly once, in the index of its day.
	var got, want []string
	for _, ix := range srv.Indices() {
		if !strings.HasPrefix(ix, "records-") {
			continue
		}
		for _, d := range srv.Docs(ix) {
			var v doc
			if err := json.Unmarshal(d.Source, &v); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s=%d@%s", d.ID, v.N, strings.TrimPrefix(ix, "records-")))
		}
	}
	for i := range n {
		want = append(want, fmt.Sprintf("r%d=%d@%s", i, i, time.UnixMilli(tortureBase+i*tortureStep).UTC().Format("2006.01.02")))
	}
	if d := crashtest.Compare(got, want); !d.OK() {
		t.Errorf("records: %v", d)
	}
	// counts: the final count of every key.
	var final []string
	for k := range min(n, tortureKeys) {
		final = append(final, fmt.Sprintf("k%d=%d", k, (n-k+tortureKeys-1)/tortureKeys))
	}
	for _, ix := range []string{"counts", "counts-ordered"} {
		var gotC []string
		for _, d := range srv.Docs(ix) {
			var v doc
			_ = json.Unmarshal(d.Source, &v)
			gotC = append(gotC, fmt.Sprintf("%s=%d", d.ID, v.N))
		}
		if d := crashtest.Compare(gotC, final); !d.OK() {
			t.Errorf("%s: %v", ix, d)
		}
	}
	// plain: every record at least once, nothing else.
	seen := map[int64]int{}
	for _, d := range srv.Docs("plain") {
		var v doc
		_ = json.Unmarshal(d.Source, &v)
		if v.N < 0 || v.N >= n {
			t.Fatalf("plain holds a record %d that was never written", v.N)
		}
		seen[v.N]++
	}
	var missing []int64
	dups := 0
	for i := range n {
		if seen[i] == 0 {
			missing = append(missing, i)
		}
		dups += max(seen[i]-1, 0)
	}
	if len(missing) > 0 {
		t.Errorf("plain misses %d records, e.g. %v", len(missing), missing[:min(len(missing), 10)])
	}
	st := srv.Stats()
	t.Logf("%d records; %d documents without id (%d repeated by replays); %d bulk requests, %d items, item statuses %v; versioned replays refused with 409: %d",
		n, srv.Count("plain"), dups, st.Requests, st.Items, st.Statuses, st.Statuses[409])
	if st.Statuses[429] == 0 {
		t.Error("no injected failure: the retries were not exercised")
	}
}
