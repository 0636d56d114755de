package kafka

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

func mustSink[T any](t testing.TB, ser Serializer[T], opts ...SinkOption) *Sink[T] {
	t.Helper()
	s, err := NewSink(ser, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSinkOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []SinkOption
		want string // substring of the error, "" for none
	}{
		{"no brokers", nil, "no brokers"},
		{"at-least-once", []SinkOption{Brokers("x:1")}, ""},
		{"exactly-once defaults", []SinkOption{Brokers("x:1"), ExactlyOnce("p")}, ""},
		{"no prefix", []SinkOption{Brokers("x:1"), ExactlyOnce("")}, "prefix"},
		{"pool too small", []SinkOption{Brokers("x:1"), ExactlyOnce("p"), TransactionPoolSize(2)}, "TransactionPoolSize"},
		{"timeout below default checkpoint timeout", []SinkOption{Brokers("x:1"), ExactlyOnce("p"), TransactionTimeout(5 * time.Minute)},
			"transaction timeout 5m0s is shorter than checkpoint interval 0s + checkpoint timeout 10m0s"},
		{"timeout below interval + timeout", []SinkOption{Brokers("x:1"), ExactlyOnce("p"), ExpectCheckpoints(10*time.Minute, 10*time.Minute)},
			"kafka.TransactionTimeout"},
		{"short checkpoints", []SinkOption{Brokers("x:1"), ExactlyOnce("p"), ExpectCheckpoints(time.Second, 10*time.Second), TransactionTimeout(2 * time.Minute)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSink(StringSerializer("t"), tc.opts...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSinkDeclare(t *testing.T) {
	alo := mustSink(t, StringSerializer("t"), Brokers("x:1"))
	eo := mustSink(t, StringSerializer("t"), Brokers("x:1"), ExactlyOnce("p"))
	for _, tc := range []struct {
		snk           connector.Declarer
		checkpointing bool
		want          connector.Guarantee
	}{
		{alo, true, connector.AtLeastOnce},
		{alo, false, connector.AtLeastOnce},
		{eo, true, connector.ExactlyOnce},
		{eo, false, connector.AtLeastOnce},
	} {
		if d := tc.snk.Declare(tc.checkpointing); d.Guarantee != tc.want || d.Reason == "" {
			t.Errorf("Declare(%v) = %+v, want %v", tc.checkpointing, d, tc.want)
		}
	}
	// Without checkpoints the exactly-once writer is not transactional.
	w, err := eo.NewWriter(fakeWriterCtx{0, 1, false}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, ok := w.(connector.PreCommitter); ok {
		t.Fatal("exactly-once writer without checkpoints pre-commits")
	}
}

// TestSinkAtLeastOnce: a job that fails and restarts several times writes
// every record at least once, partitioned by key, with its headers.
func TestSinkAtLeastOnce(t *testing.T) {
	_, addr := newCluster(t, 4, "alo")
	const n = 5000
	f := sluicetest.RandomFailer(rand.New(rand.NewPCG(1, 2)), 3, n).Pause(100, time.Millisecond)
	snk := mustSink(t, KeyValueSerializer("", func(i int64) ([]byte, []byte, []Header, error) {
		return []byte(strconv.FormatInt(i%7, 10)), []byte(strconv.FormatInt(i, 10)), []Header{{Key: "h", Value: []byte("x")}}, nil
	}), Brokers(addr), DefaultTopic("alo"))
	env := stream.New("alo", stream.WithParallelism(2), stream.WithLogger(quietLogger()),
		stream.WithCheckpointing(20*time.Millisecond, ""), stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)), stream.WithMaxRepeatedFailures(-1))
	src := stream.Generate(env, n, func(i int64) int64 { return i })
	sluicetest.InjectFailures(src, f).SinkTo("kafka", snk)
	sluicetest.Run(t, env)

	recs := consume(t, addr, "alo", false)
	seen := map[int64]int{}
	partOf := map[string]int32{}
	for _, r := range recs {
		i, err := strconv.ParseInt(string(r.Value), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seen[i]++
		if p, ok := partOf[string(r.Key)]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		partOf[string(r.Key)] = r.Partition
		if len(r.Headers) != 1 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != "x" {
			t.Fatalf("headers %v", r.Headers)
		}
	}
	dups := 0
	for i := range int64(n) {
		switch seen[i] {
		case 0:
			t.Fatalf("record %d lost", i)
		case 1:
		default:
			dups++
		}
	}
	t.Logf("%d failures, %d records, %d written more than once", f.Failures(), len(recs), dups)
}

// TestSinkAtLeastOnceFlushWaitsForAcks: after Flush returns, every record
// written before is in Kafka.
func TestSinkAtLeastOnceFlushWaitsForAcks(t *testing.T) {
	_, addr := newCluster(t, 2, "flush")
	snk := mustSink(t, StringSerializer("flush"), Brokers(addr), ProducerOptions(kgo.ProducerLinger(time.Second)))
	w, err := snk.NewWriter(fakeWriterCtx{0, 1, true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	for i := range 100 {
		if err := w.Write(ctx, fmt.Sprint(i), -1<<63); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(consume(t, addr, "flush", false)); got != 100 {
		t.Fatalf("%d records in Kafka after Flush, want 100", got)
	}
	// A record without topic is refused.
	noTopic := mustSink(t, StringSerializer(""), Brokers(addr))
	w2, _ := noTopic.NewWriter(fakeWriterCtx{0, 1, true}, nil)
	defer w2.Close()
	if err := w2.Write(ctx, "x", 0); err == nil || !strings.Contains(err.Error(), "DefaultTopic") {
		t.Fatalf("write without topic: %v", err)
	}
}

// txSink is an exactly-once sink for tests that drive writers and
// committers directly.
func txSink(t testing.TB, addr, topic, prefix string, opts ...SinkOption) *Sink[string] {
	return mustSink(t, StringSerializer(topic), append([]SinkOption{Brokers(addr), ExactlyOnce(prefix),
		ExpectCheckpoints(time.Second, 10*time.Second), TransactionTimeout(2 * time.Minute), TransactionPoolSize(4)}, opts...)...)
}

func writeAll(t testing.TB, w connector.Writer[string], vals ...string) {
	t.Helper()
	for _, v := range vals {
		if err := w.Write(context.Background(), v, -1<<63); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExactlyOnceCommitOnCompletion drives a transactional writer and
// committers directly: pre-committed records are invisible to
// read_committed consumers until the commit; a commit is idempotent; a
// committer of a restarted job commits a transaction whose producer is
// gone; a restored writer leaves the checkpoint's transactions alone and
// aborts the one its predecessor left open.
func TestExactlyOnceCommitOnCompletion(t *testing.T) {
	_, addr := newCluster(t, 2, "eo")
	snk := txSink(t, addr, "eo", "vis")
	ctx := context.Background()
	wctx := fakeWriterCtx{0, 1, true}
	w, err := snk.NewWriter(wctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := snk.NewCommitter(wctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeAll(t, w, want("a", 0, 10)...)
	c1, err := w.(connector.PreCommitter).PreCommit(ctx, 1)
	if err != nil || len(c1) != 1 {
		t.Fatalf("pre-commit: %v, %d committables", err, len(c1))
	}
	if got := consume(t, addr, "eo", true); len(got) != 0 || stable(t, addr, "eo") {
		t.Fatalf("pre-committed records visible to read_committed: %v", values(got))
	}
	if err := w.(connector.CheckpointListener).NotifyCheckpointComplete(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(ctx, 1, c1); err != nil {
		t.Fatal(err)
	}
	if got := values(consume(t, addr, "eo", true)); !slices.Equal(sorted(got), want("a", 0, 10)) || !stable(t, addr, "eo") {
		t.Fatalf("after commit: %v", got)
	}
	if err := c.Commit(ctx, 1, c1); err != nil {
		t.Fatalf("commit again (already committed): %v", err)
	}

	// Checkpoint 2 pre-commits b, then the writer writes c (open) and the
	// process "dies": no Close, nothing aborted.
	writeAll(t, w, want("b", 0, 5)...)
	c2, err := w.(connector.PreCommitter).PreCommit(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.(connector.StatefulWriter).SnapshotState(2)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, want("c", 0, 3)...)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	w.(*txWriter[string]).cur.cl.Close() // crash: the open transaction lingers

	// The restored job: its writer starts from the state of checkpoint 2
	// and its committer commits checkpoint 2's committables.
	w2, err := snk.NewWriter(wctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	c2b, err := snk.NewCommitter(wctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2b.Close()
	if err := c2b.Commit(ctx, 1, c2); err != nil {
		t.Fatalf("commit restored committable: %v", err)
	}
	if got := values(consume(t, addr, "eo", true)); !slices.Equal(sorted(got), sorted(append(want("a", 0, 10), want("b", 0, 5)...))) {
		t.Fatalf("after restore: %v", got)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("the transaction left open by the failed run was not aborted")
	}
	// The restored writer does not reuse checkpoint 2's transactional id
	// before a checkpoint of its own completes.
	ids := map[string]bool{}
	for i := range 3 {
		writeAll(t, w2, "d")
		cs, err := w2.(connector.PreCommitter).PreCommit(ctx, int64(3+i))
		if err != nil {
			t.Fatal(err)
		}
		k, _ := decodeCommittable(cs[0])
		ids[k.TransactionalID] = true
		if c2k, _ := decodeCommittable(c2[0]); i == 0 && k.TransactionalID == c2k.TransactionalID {
			t.Fatalf("transactional id %s of the restored checkpoint reused before a checkpoint completed", k.TransactionalID)
		}
		if err := w2.(connector.CheckpointListener).NotifyCheckpointComplete(int64(3 + i)); err != nil {
			t.Fatal(err)
		}
		if err := c2b.Commit(ctx, 1, cs); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("ids %v: want three different", ids)
	}
}

// TestExactlyOnceDataLoss: a transaction fenced or expired before its
// commit is reported as data loss.
func TestExactlyOnceDataLoss(t *testing.T) {
	_, addr := newCluster(t, 1, "loss")
	ctx := context.Background()
	wctx := fakeWriterCtx{0, 1, true}

	t.Run("fenced", func(t *testing.T) {
		snk := txSink(t, addr, "loss", "fenced")
		w, err := snk.NewWriter(wctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		writeAll(t, w, "x")
		cs, err := w.(connector.PreCommitter).PreCommit(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := decodeCommittable(cs[0])
		if err := initProducerID(ctx, newClient(t, addr), k.TransactionalID, time.Minute); err != nil {
			t.Fatal(err)
		}
		c, _ := snk.NewCommitter(wctx)
		defer c.Close()
		if err := c.Commit(ctx, 1, cs); !errors.Is(err, connector.ErrDataLoss) {
			t.Fatalf("commit of a fenced transaction: %v, want data loss", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		snk := txSink(t, addr, "loss", "expired")
		snk.cfg.txnTimeout = 500 * time.Millisecond // below what NewSink accepts
		w, err := snk.NewWriter(wctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		writeAll(t, w, "y")
		cs, err := w.(connector.PreCommitter).PreCommit(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, func() bool { return stable(t, addr, "loss") }, "the broker to abort the expired transaction")
		c, _ := snk.NewCommitter(wctx)
		defer c.Close()
		err = c.Commit(ctx, 1, cs)
		if !errors.Is(err, connector.ErrDataLoss) || !strings.Contains(err.Error(), "transaction timeout") {
			t.Fatalf("commit of an expired transaction: %v, want data loss", err)
		}
	})
}

func TestPool(t *testing.T) {
	p := pool{slots: make([]slot, 4)}
	take := func(want int, wantDegraded bool, pre int64) {
		t.Helper()
		n, degraded := p.acquire()
		if n != want || degraded != wantDegraded {
			t.Fatalf("acquired %d (degraded %v), want %d (%v); slots %+v", n, degraded, want, wantDegraded, p.slots)
		}
		if n >= 0 {
			p.slots[n] = slot{state: slotPending, pre: pre}
		}
	}
	take(0, false, 1)
	take(1, false, 2)
	p.completed(1, 2) // 0 committed; checkpoints 1 and 2 hold it
	take(2, false, 3)
	p.completed(3, 3) // 1 and 2 committed; 0 is still held by checkpoint 1, the second latest
	take(3, false, 4)
	take(0, true, 5) // no id is free: 0 is held only by the second latest
	p.completed(4, 4)
	p.completed(5, 5) // 1 and 2 are held by no completed checkpoint any more
	take(1, false, 6)
	take(2, false, 7)

	var r pool
	r.slots = make([]slot, 4)
	r.restore(&writerState{Prefix: "p", Parallelism: 1, PoolSize: 4, Next: 1, Checkpoint: 8,
		Reserved: []reservedSlot{{Slot: 1, At: 7}, {Slot: 2, Committed: true, At: 5}}})
	if got := r.reserved(); len(got) != 2 || got[0] != (reservedSlot{Slot: 1, Committed: true, At: 8}) || got[1] != (reservedSlot{Slot: 2, Committed: true, At: 5}) {
		t.Fatalf("restored reservations %+v", got)
	}
	for _, want := range []int{3, 0} {
		if n, degraded := r.acquire(); n != want || degraded {
			t.Fatalf("restored pool: acquired %d (degraded %v), want %d", n, degraded, want)
		}
	}
	if n, degraded := r.acquire(); n != 2 || !degraded {
		t.Fatalf("restored pool: acquired %d (degraded %v), want 2, degraded: checkpoint 8 holds 1", n, degraded)
	}
	if n, _ := r.acquire(); n != -1 {
		t.Fatalf("restored pool: acquired %d, want none: the restored checkpoint holds 1", n)
	}
}

func TestPlanAbort(t *testing.T) {
	cfg := &sinkConfig{prefix: "p", poolSize: 3}
	entry := func(s, par int, reserved ...int) *writerState {
		st := &writerState{Prefix: "p", Subtask: s, Parallelism: par, PoolSize: 3, Checkpoint: 5}
		for _, r := range reserved {
			st.Reserved = append(st.Reserved, reservedSlot{Slot: r, At: 5, PID: 1, Epoch: 1})
		}
		return st
	}
	for _, tc := range []struct {
		name       string
		subtask    int
		par        int
		abortBelow int
		entries    []*writerState
		want       string // candidates, space-separated; or "error: ..."
	}{
		{"fresh", 1, 2, 0, nil, "p-1-0 p-1-1 p-1-2"},
		{"fresh with a bound", 1, 2, 5, nil, "p-1-0 p-1-1 p-1-2 p-3-0 p-3-1 p-3-2"},
		{"restore", 0, 2, 0, []*writerState{entry(0, 2, 1)}, "p-0-0 p-0-2"},
		{"scale down", 0, 2, 0, []*writerState{entry(0, 3, 0), entry(2, 3, 2)}, "p-0-1 p-0-2 p-2-0 p-2-1"},
		{"scale down, bound beyond", 0, 2, 6, []*writerState{entry(0, 3, 0), entry(2, 3, 2)}, "p-0-1 p-0-2 p-2-0 p-2-1 p-4-0 p-4-1 p-4-2"},
		{"scale up, new subtask", 2, 3, 0, nil, "p-2-0 p-2-1 p-2-2"},
		{"changed prefix", 0, 1, 0, []*writerState{{Prefix: "old", Subtask: 0, Parallelism: 1, PoolSize: 2, Reserved: []reservedSlot{{Slot: 1}}}},
			"old-0-0 p-0-0 p-0-1 p-0-2"},
		{"foreign entry", 0, 2, 0, []*writerState{entry(1, 2)}, "error: restored into subtask 0"},
		{"missing own entry", 0, 2, 0, []*writerState{entry(2, 3)}, "error: did not reach"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *cfg
			c.abortBelow = tc.abortBelow
			plan, err := planAbort(&c, tc.subtask, tc.par, tc.entries)
			if strings.HasPrefix(tc.want, "error: ") {
				if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(tc.want, "error: ")) {
					t.Fatalf("got %v, want %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Clone(plan.candidates)
			slices.Sort(got)
			if s := strings.Join(got, " "); s != tc.want {
				t.Fatalf("candidates %s, want %s", s, tc.want)
			}
		})
	}
}

// TestExactlyOnceFailingCheckpoints: while checkpoints do not complete,
// transactions pile up; the writer refuses to begin one when only one id
// would be left, so that the job restored from the last snapshot can write
// before its first checkpoint completes.
func TestExactlyOnceFailingCheckpoints(t *testing.T) {
	_, addr := newCluster(t, 1, "pile")
	snk := txSink(t, addr, "pile", "pile") // pool of 4
	ctx := context.Background()
	wctx := fakeWriterCtx{0, 1, true}
	w, err := snk.NewWriter(wctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var committables [][]byte
	var st [][]byte
	for i := range 3 {
		writeAll(t, w, fmt.Sprint("v", i))
		cs, err := w.(connector.PreCommitter).PreCommit(ctx, int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		committables = append(committables, cs...)
		if st, err = w.(connector.StatefulWriter).SnapshotState(int64(i + 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write(ctx, "v3", 0); err == nil || !strings.Contains(err.Error(), "TransactionPoolSize") {
		t.Fatalf("write with 3 of 4 ids pending: %v, want the pool exhausted", err)
	}
	w.Close()

	// Restored from checkpoint 3 (which completed): commit, then write.
	w2, err := snk.NewWriter(wctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	c, _ := snk.NewCommitter(wctx)
	defer c.Close()
	if err := c.Commit(ctx, 1, committables); err != nil {
		t.Fatal(err)
	}
	writeAll(t, w2, "v3")
	cs, err := w2.(connector.PreCommitter).PreCommit(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	w2.(connector.CheckpointListener).NotifyCheckpointComplete(4)
	if err := c.Commit(ctx, 1, cs); err != nil {
		t.Fatal(err)
	}
	if got := sorted(values(consume(t, addr, "pile", true))); !slices.Equal(got, []string{"v0", "v1", "v2", "v3"}) || !stable(t, addr, "pile") {
		t.Fatalf("got %v", got)
	}
}

type timedWriterCtx struct {
	fakeWriterCtx
	interval, timeout time.Duration
}

func (c timedWriterCtx) CheckpointTiming() (time.Duration, time.Duration) {
	return c.interval, c.timeout
}

// TestExactlyOnceTimeoutFromRuntime: a writer context that tells the
// job's checkpoint timing overrides ExpectCheckpoints.
func TestExactlyOnceTimeoutFromRuntime(t *testing.T) {
	_, addr := newCluster(t, 1, "timing")
	snk := txSink(t, addr, "timing", "timing") // 2m timeout, expecting 1s + 10s
	_, err := snk.NewWriter(timedWriterCtx{fakeWriterCtx{0, 1, true}, time.Minute, 10 * time.Minute}, nil)
	if err == nil || !strings.Contains(err.Error(), "kafka.TransactionTimeout") {
		t.Fatalf("writer with checkpoint timeout 10m and transaction timeout 2m: %v", err)
	}
	w, err := snk.NewWriter(timedWriterCtx{fakeWriterCtx{0, 1, true}, time.Second, 30 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
}
