package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

func mustSource[T any](t testing.TB, dec Decoder[T], opts ...SourceOption) *Source[T] {
	t.Helper()
	s, err := NewSource(dec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func want(topic string, from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("%s-%d", topic, i))
	}
	return out
}

// runBounded runs a bounded job reading src into a collecting sink.
func runBounded(t *testing.T, src *Source[string], par int) *sluicetest.Sink[string] {
	t.Helper()
	env := stream.New("kafka-source-test", stream.WithParallelism(par), stream.WithLogger(quietLogger()))
	out := sluicetest.NewSink[string]()
	stream.FromSource(env, "kafka", src, eventtime.NoWatermarks[string]()).SinkTo("out", out)
	sluicetest.Run(t, env)
	return out
}

func TestSourceTopicsAndRegex(t *testing.T) {
	_, addr := newCluster(t, 3, "orders", "events-a", "events-b", "other")
	produceN(t, addr, "orders", 3, 0, 30)
	produceN(t, addr, "events-a", 3, 0, 10)
	produceN(t, addr, "events-b", 3, 0, 10)
	produceN(t, addr, "other", 3, 0, 10)
	for _, tc := range []struct {
		name string
		opt  SourceOption
		want []string
	}{
		{"list", Topics("orders"), want("orders", 0, 30)},
		{"list of two", Topics("events-a", "events-b"), append(want("events-a", 0, 10), want("events-b", 0, 10)...)},
		{"regex", TopicRegex("events-.*"), append(want("events-a", 0, 10), want("events-b", 0, 10)...)},
		{"regex is anchored", TopicRegex("events"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := runBounded(t, mustSource(t, String(), Brokers(addr), tc.opt, Bounded()), 2)
			if got := sorted(out.Values()); !slices.Equal(got, sorted(tc.want)) {
				t.Fatalf("got %d values %v, want %d", len(got), got, len(tc.want))
			}
		})
	}
}

// TestSourceTimestamps: records carry their Kafka timestamp as event time.
func TestSourceTimestamps(t *testing.T) {
	_, addr := newCluster(t, 2, "ts")
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: "ts", Value: fmt.Append(nil, i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	produce(t, addr, recs...)
	out := runBounded(t, mustSource(t, String(), Brokers(addr), Topics("ts"), Bounded()), 1)
	if out.Len() != 20 {
		t.Fatalf("got %d records, want 20", out.Len())
	}
	for _, r := range out.Records() {
		var i int
		fmt.Sscan(r.Value, &i)
		if want := base.Add(time.Duration(i) * time.Second).UnixMilli(); r.Time != want {
			t.Errorf("record %d: event time %d, want %d", i, r.Time, want)
		}
	}
}

func TestSourceDiscovery(t *testing.T) {
	_, addr := newCluster(t, 1, "disc-1", "unrelated")
	produceN(t, addr, "disc-1", 1, 0, 5)
	src := mustSource(t, String(), Brokers(addr), TopicRegex("disc-.*"), DiscoveryInterval(50*time.Millisecond), StartFrom(Latest()))
	events, completed := checkpointsCompleted()
	env := stream.New("discovery", stream.WithParallelism(2), stream.WithLogger(quietLogger()),
		stream.WithCheckpointing(50*time.Millisecond, ""), stream.WithEvents(events))
	out := sluicetest.NewSink[string]()
	stream.FromSource(env, "kafka", src, eventtime.NoWatermarks[string]()).SinkTo("out", out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The start position (latest) is resolved by the split enumerator's
	// first discovery, when it is created; a checkpoint completes only
	// after it took the enumerator's snapshot. The first five records are
	// not read.
	waitFor(t, 20*time.Second, func() bool { return completed.Load() > 0 }, "a checkpoint")
	produceN(t, addr, "disc-1", 1, 5, 5)
	waitFor(t, 20*time.Second, func() bool { return out.Len() >= 5 }, "records of disc-1/0")

	adm := newAdmin(t, addr)
	if _, err := adm.CreatePartitions(ctx, 2, "disc-1"); err != nil {
		t.Fatal(err)
	}
	// Records written to the new partitions before they are discovered are
	// read: new partitions start at their earliest offset.
	produceN(t, addr, "unrelated", 1, 0, 3)
	produce(t, addr, &kgo.Record{Topic: "disc-1", Partition: 1, Value: []byte("disc-1-p1")},
		&kgo.Record{Topic: "disc-1", Partition: 2, Value: []byte("disc-1-p2")})
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "disc-2"); err != nil {
		t.Fatal(err)
	}
	produce(t, addr, &kgo.Record{Topic: "disc-2", Partition: 0, Value: []byte("disc-2-a")},
		&kgo.Record{Topic: "disc-2", Partition: 1, Value: []byte("disc-2-b")})
	waitFor(t, 20*time.Second, func() bool { return out.Len() >= 9 }, "records of discovered partitions")

	// The unrelated topic's records were written before an end record on
	// every partition the job reads, which both readers have some of (the
	// partitions of a topic go round-robin). A reader that also read the
	// unrelated topic would have fetched its records with the end records,
	// and emitted them by the next checkpoint.
	var ends []*kgo.Record
	var wantEnds []string
	for _, tp := range []struct {
		topic string
		parts int32
	}{{"disc-1", 3}, {"disc-2", 2}} {
		for p := range tp.parts {
			v := fmt.Sprintf("end-%s/%d", tp.topic, p)
			ends = append(ends, &kgo.Record{Topic: tp.topic, Partition: p, Value: []byte(v)})
			wantEnds = append(wantEnds, v)
		}
	}
	produce(t, addr, ends...)
	waitFor(t, 20*time.Second, func() bool { return out.Len() >= 9+len(ends) }, "the end records")
	c := completed.Load()
	waitFor(t, 20*time.Second, func() bool { return completed.Load() > c }, "a checkpoint after the end records")
	cancel()
	job.Wait()
	wantVals := slices.Concat(want("disc-1", 5, 5), []string{"disc-1-p1", "disc-1-p2", "disc-2-a", "disc-2-b"}, wantEnds)
	if got := sorted(out.Values()); !slices.Equal(got, sorted(wantVals)) {
		t.Fatalf("got %v, want %v", got, sorted(wantVals))
	}
}

// checkpointsCompleted returns a channel for stream.WithEvents and the
// number of "checkpoint-completed" events received on it so far.
func checkpointsCompleted() (chan runtime.JobEvent, *atomic.Int64) {
	events := make(chan runtime.JobEvent, 100)
	var n atomic.Int64
	go func() {
		for ev := range events {
			if ev.Kind == "checkpoint-completed" {
				n.Add(1)
			}
		}
	}()
	return events, &n
}

func TestSourceStartPositions(t *testing.T) {
	_, addr := newCluster(t, 2, "pos", "ts")
	produceN(t, addr, "pos", 2, 0, 20) // pos-0, pos-2, ... on partition 0
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "ts", Partition: 0, Value: fmt.Appendf(nil, "ts-%d", i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, addr)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "pos", Partition: 0, At: 4, LeaderEpoch: -1}) // pos-8 is at offset 4 of partition 0
	if _, err := adm.CommitOffsets(context.Background(), "g", offs); err != nil {
		t.Fatal(err)
	}
	odd := func(from int) []string { // values of partition 1 from offset from
		var out []string
		for i := 2*from + 1; i < 20; i += 2 {
			out = append(out, fmt.Sprintf("pos-%d", i))
		}
		return out
	}
	even := func(from int) []string {
		var out []string
		for i := 2 * from; i < 20; i += 2 {
			out = append(out, fmt.Sprintf("pos-%d", i))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		topic string
		start StartOffset
		want  []string
	}{
		{"earliest", "pos", Earliest(), want("pos", 0, 20)},
		{"latest", "pos", Latest(), nil},
		{"timestamp", "ts", AtTimestamp(base.Add(6 * time.Second)), want("ts", 6, 4)},
		{"timestamp after the end", "ts", AtTimestamp(base.Add(time.Hour)), nil},
		{"committed else earliest", "pos", Committed(Earliest()), append(even(4), odd(0)...)},
		{"committed else latest", "pos", Committed(Latest()), even(4)},
		{"committed, group unknown", "pos", Committed(Earliest()), want("pos", 0, 20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := "g"
			if strings.Contains(tc.name, "unknown") {
				group = "nobody"
			}
			src := mustSource(t, String(), Brokers(addr), Topics(tc.topic), StartFrom(tc.start), Group(group), Bounded())
			if got := sorted(runBounded(t, src, 2).Values()); !slices.Equal(got, sorted(tc.want)) {
				t.Fatalf("got %v, want %v", got, sorted(tc.want))
			}
		})
	}
}

// TestSourceLatestUnbounded: an unbounded source starting at the latest
// offsets reads only what is written after the job started.
func TestSourceLatestUnbounded(t *testing.T) {
	_, addr := newCluster(t, 2, "late")
	produceN(t, addr, "late", 2, 0, 10)
	src := mustSource(t, String(), Brokers(addr), Topics("late"), StartFrom(Latest()))
	events, completed := checkpointsCompleted()
	env := stream.New("latest", stream.WithLogger(quietLogger()), stream.WithCheckpointing(20*time.Millisecond, ""), stream.WithEvents(events))
	out := sluicetest.NewSink[string]()
	stream.FromSource(env, "kafka", src, eventtime.NoWatermarks[string]()).SinkTo("out", out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A checkpoint completes after the split enumerator, which resolves the
	// start offsets when it is created, took its snapshot.
	waitFor(t, 20*time.Second, func() bool { return completed.Load() > 0 }, "a checkpoint")
	produceN(t, addr, "late", 2, 10, 6)
	// A record written before the start would come before the new ones of
	// its partition, so it would be among the first six.
	waitFor(t, 20*time.Second, func() bool { return out.Len() >= 6 }, "new records")
	cancel()
	job.Wait()
	if got := sorted(out.Values()); !slices.Equal(got, sorted(want("late", 10, 6))) {
		t.Fatalf("got %v", got)
	}
}

// TestSourceBoundedStopsAtStartEnd: records written after the job started
// are not read by a bounded source; with read_committed it stops at the
// last stable offset and skips aborted transactions.
func TestSourceBoundedStopsAtStartEnd(t *testing.T) {
	_, addr := newCluster(t, 1, "b")
	ctx := context.Background()
	txn := func(id string) *kgo.Client {
		cl := newClient(t, addr, kgo.TransactionalID(id))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	aborted := txn("aborted")
	for i := range 3 {
		if err := aborted.ProduceSync(ctx, &kgo.Record{Topic: "b", Value: fmt.Appendf(nil, "aborted-%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := aborted.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	produceN(t, addr, "b", 1, 0, 5)
	open := txn("open")
	if err := open.ProduceSync(ctx, &kgo.Record{Topic: "b", Value: []byte("open-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produceN(t, addr, "b", 1, 5, 2) // after the open transaction: beyond the last stable offset

	t.Run("read_committed", func(t *testing.T) {
		reading, gate := make(chan struct{}), make(chan struct{})
		env := stream.New("bounded", stream.WithLogger(quietLogger()))
		src := mustSource(t, String(), Brokers(addr), Topics("b"), Bounded())
		out := sluicetest.NewSink[string]()
		first := true
		s := stream.TryMap(stream.FromSource(env, "kafka", src, eventtime.NoWatermarks[string]()), func(v string) (string, error) {
			if first {
				first = false
				close(reading)
				<-gate
			}
			return v, nil
		})
		s.SinkTo("out", out)
		done := make(chan error, 1)
		go func() { done <- sluicetest.RunErr(env, time.Minute) }()
		// The first record was read, so the split was assigned, with the
		// stop offset resolved when the job started.
		select {
		case <-reading:
		case err := <-done:
			t.Fatalf("the job ended before reading a record: %v", err)
		}
		produceN(t, addr, "b", 1, 100, 3) // after the start: not read
		close(gate)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := sorted(out.Values()); !slices.Equal(got, sorted(want("b", 0, 5))) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("read_uncommitted", func(t *testing.T) {
		out := runBounded(t, mustSource(t, String(), Brokers(addr), Topics("b"), Bounded(), ReadUncommitted()), 1)
		all := append(append(append([]string{"aborted-0", "aborted-1", "aborted-2"}, want("b", 0, 5)...), "open-0"), want("b", 5, 2)...)
		all = append(all, want("b", 100, 3)...)
		if got := sorted(out.Values()); !slices.Equal(got, sorted(all)) {
			t.Fatalf("got %v, want %v", got, sorted(all))
		}
	})
	if err := open.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

type number struct {
	N int `json:"n"`
}

func TestSourceJSONDecodeErrors(t *testing.T) {
	_, addr := newCluster(t, 1, "json")
	produce(t, addr,
		&kgo.Record{Topic: "json", Value: []byte(`{"n":1}`)},
		&kgo.Record{Topic: "json", Value: []byte(`oops`)},
		&kgo.Record{Topic: "json", Value: []byte(`{"n":3}`)},
	)
	t.Run("dead letters", func(t *testing.T) {
		env := stream.New("json", stream.WithLogger(quietLogger()))
		out, dead := sluicetest.NewSink[number](), sluicetest.NewSink[connector.BadRecord]()
		s := stream.FromSource(env, "kafka", mustSource(t, JSON[number](), Brokers(addr), Topics("json"), Bounded()), eventtime.NoWatermarks[number]())
		s.SinkTo("out", out)
		stream.DeadLetters(s).SinkTo("dead", dead)
		sluicetest.Run(t, env)
		if got := out.Values(); len(got) != 2 || got[0].N != 1 || got[1].N != 3 {
			t.Fatalf("decoded %v", got)
		}
		bad := dead.Values()
		if len(bad) != 1 || bad[0].Location != "json/0@1" || string(bad[0].Raw) != "oops" || bad[0].Source != "kafka-source" || bad[0].Error == "" {
			t.Fatalf("dead letters %+v", bad)
		}
	})
	t.Run("job fails", func(t *testing.T) {
		env := stream.New("json", stream.WithLogger(quietLogger()))
		stream.FromSource(env, "kafka", mustSource(t, JSONMap(), Brokers(addr), Topics("json"), Bounded()), eventtime.NoWatermarks[map[string]any]()).
			SinkTo("out", sluicetest.NewSink[map[string]any]())
		err := sluicetest.RunErr(env, time.Minute)
		if !errors.Is(err, connector.ErrBadRecord) || !strings.Contains(err.Error(), "json/0@1") {
			t.Fatalf("got error %v, want a bad record at json/0@1", err)
		}
	})
}

// TestSourceCommitsOffsetsAfterCheckpoints drives readers directly: the
// group's offsets move only when a checkpoint completes, to the offsets of
// that checkpoint, never for aborted checkpoints.
func TestSourceCommitsOffsetsAfterCheckpoints(t *testing.T) {
	_, addr := newCluster(t, 1, "commits")
	produceN(t, addr, "commits", 1, 0, 30)
	src := mustSource(t, String(), Brokers(addr), Topics("commits"), Group("g"), MaxPollRecords(10))
	newReader := func() (connector.Reader[string], connector.CheckpointListener, *fakeOutput[string]) {
		r, err := src.NewReader(fakeReaderCtx{0, 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AddSplits([]connector.Split{&Split{Topic: "commits", Partition: 0, Stop: -1}}); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		return r, r.(connector.CheckpointListener), &fakeOutput[string]{}
	}
	adm := newAdmin(t, addr)
	committed := func() int64 {
		o, err := adm.FetchOffsets(context.Background(), "g")
		if errors.Is(err, kerr.GroupIDNotFound) {
			return -1
		}
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := o.Lookup("commits", 0); ok {
			return r.At
		}
		return -1
	}

	// Snapshots and an aborted checkpoint, none completed: closing the
	// reader lets every commit it started finish, and there is none.
	r, l, out := newReader()
	pollUntil(t, r, out, 10)
	r.SnapshotState(1)
	pollUntil(t, r, out, 20)
	r.SnapshotState(2)
	l.NotifyCheckpointAborted(2)
	pollUntil(t, r, out, 30)
	r.SnapshotState(3)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if c := committed(); c != -1 {
		t.Fatalf("offset %d committed, yet no checkpoint completed", c)
	}

	// Completed checkpoints commit their own offsets, an aborted one none.
	r, l, out = newReader()
	defer r.Close()
	pollUntil(t, r, out, 10)
	n1 := int64(out.len())
	r.SnapshotState(1)
	l.NotifyCheckpointComplete(1)
	waitFor(t, 10*time.Second, func() bool { return committed() == n1 }, "the offsets of checkpoint 1")
	pollUntil(t, r, out, int(n1)+10)
	r.SnapshotState(2)
	l.NotifyCheckpointAborted(2)
	pollUntil(t, r, out, 30)
	r.SnapshotState(3)
	l.NotifyCheckpointComplete(3)
	waitFor(t, 10*time.Second, func() bool { return committed() == 30 }, "the offsets of checkpoint 3")
	if got := out.bySplit["commits/0"]; !slices.Equal(got, want("commits", 0, 30)) {
		t.Fatalf("read %v", got)
	}
}

// TestEnumeratorRestore: a restored enumerator does not hand out the
// partitions it knew again, and reads partitions that appeared since from
// their earliest offset whatever the start position.
func TestEnumeratorRestore(t *testing.T) {
	_, addr := newCluster(t, 2, "en")
	produceN(t, addr, "en", 2, 0, 10)
	src := mustSource(t, String(), Brokers(addr), Topics("en"), StartFrom(Latest()))
	ctx := newFakeEnumCtx(2)
	e, err := src.NewEnumerator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.AddReader(0)
	e.AddReader(1)
	var got []string
	for s, ss := range ctx.assigned {
		for _, sp := range ss {
			k := sp.(*Split)
			if owner(k.Topic, k.Partition, 2) != s || k.Next != 5 || k.Stop != -1 {
				t.Errorf("split %+v assigned to %d", *k, s)
			}
			got = append(got, k.SplitID())
		}
	}
	if slices.Sort(got); !slices.Equal(got, []string{"en/0", "en/1"}) {
		t.Fatalf("assigned %v", got)
	}
	if len(ctx.every) != 1 {
		t.Fatalf("%d periodic discoveries registered", len(ctx.every))
	}
	st, err := e.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()

	if _, err := newAdmin(t, addr).CreatePartitions(context.Background(), 1, "en"); err != nil {
		t.Fatal(err)
	}
	produce(t, addr, &kgo.Record{Topic: "en", Partition: 2, Value: []byte("x")})
	ctx2 := newFakeEnumCtx(3)
	e2, err := src.NewEnumerator(ctx2, st)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	for i := range 3 {
		e2.AddReader(i)
	}
	var all []*Split
	for _, ss := range ctx2.assigned {
		for _, sp := range ss {
			all = append(all, sp.(*Split))
		}
	}
	if len(all) != 1 || all[0].SplitID() != "en/2" || all[0].Next != 0 {
		t.Fatalf("restored enumerator assigned %v", all)
	}
}
