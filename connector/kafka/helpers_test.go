package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
)

// newCluster starts an in-process kfake cluster (a protocol-level fake of
// Kafka, see DESIGN.md section 8) with one broker and the given topics.
func newCluster(t testing.TB, partitions int32, topics ...string) (*kfake.Cluster, string) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DisableClientMetrics()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newAdmin(t testing.TB, addr string) *kadm.Client {
	return kadm.NewClient(newClient(t, addr))
}

// produce writes the records synchronously, each to its Partition.
func produce(t testing.TB, addr string, recs ...*kgo.Record) {
	t.Helper()
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

// produceN writes n records "<topic>-<i>" round-robin over the
// partitions of topic (partition i % partitions), keyless.
func produceN(t testing.TB, addr, topic string, partitions int32, from, n int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: fmt.Appendf(nil, "%s-%d", topic, i)})
	}
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

// offsets lists the high watermarks (committed=false) or last stable
// offsets of topic.
func offsets(t testing.TB, addr, topic string, committed bool) map[int32]int64 {
	t.Helper()
	adm := newAdmin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		lo  kadm.ListedOffsets
		err error
	)
	if committed {
		lo, err = adm.ListCommittedOffsets(ctx, topic)
	} else {
		lo, err = adm.ListEndOffsets(ctx, topic)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("list offsets %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}

// stable reports whether no transaction is open on topic: the last stable
// offset of every partition is its high watermark.
func stable(t testing.TB, addr, topic string) bool {
	t.Helper()
	hw, ls := offsets(t, addr, topic, false), offsets(t, addr, topic, true)
	for p, o := range hw {
		if ls[p] != o {
			return false
		}
	}
	return true
}

// consume reads topic from the start up to the current end (the last
// stable offset with readCommitted), returning the values in partition
// order.
func consume(t testing.TB, addr, topic string, readCommitted bool) []*kgo.Record {
	t.Helper()
	ends := offsets(t, addr, topic, readCommitted)
	parts := map[int32]kgo.Offset{}
	for p, end := range ends {
		if end > 0 {
			parts[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(parts) == 0 {
		return nil
	}
	iso := kgo.ReadUncommitted()
	if readCommitted {
		iso = kgo.ReadCommitted()
	}
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	defer cl.Close()
	pos := map[int32]int64{}
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		doneAll := true
		for p, end := range ends {
			if pos[p] < end {
				doneAll = false
			}
		}
		if doneAll {
			break
		}
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: positions %v, ends %v: %v", topic, pos, ends, err)
		}
		fs.EachError(func(t2 string, p int32, err error) { t.Fatalf("consume %s/%d: %v", t2, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			pos[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() && r.Offset < ends[r.Partition] {
				out = append(out, r)
			}
		})
	}
	slices.SortStableFunc(out, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out
}

func values(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	return out
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// waitFor polls cond until it holds or d passed.
func waitFor(t testing.TB, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Fakes of the runtime's side of the connector contracts, for tests that
// drive enumerators, readers and writers directly.

type fakeEnumCtx struct {
	par      int
	assigned map[int][]connector.Split
	noMore   map[int]bool
	every    []func() error
}

func newFakeEnumCtx(par int) *fakeEnumCtx {
	return &fakeEnumCtx{par: par, assigned: map[int][]connector.Split{}, noMore: map[int]bool{}}
}

func (c *fakeEnumCtx) Parallelism() int { return c.par }
func (c *fakeEnumCtx) Assign(s int, splits ...connector.Split) {
	c.assigned[s] = append(c.assigned[s], splits...)
}
func (c *fakeEnumCtx) NoMoreSplits(s int)                     { c.noMore[s] = true }
func (c *fakeEnumCtx) Every(_ time.Duration, fn func() error) { c.every = append(c.every, fn) }
func (c *fakeEnumCtx) Logger() *slog.Logger                   { return quietLogger() }

type fakeReaderCtx struct{ subtask, par int }

func (c fakeReaderCtx) Subtask() int         { return c.subtask }
func (c fakeReaderCtx) Parallelism() int     { return c.par }
func (c fakeReaderCtx) RequestSplit()        {}
func (c fakeReaderCtx) Logger() *slog.Logger { return quietLogger() }
func (c fakeReaderCtx) Context() context.Context {
	return context.Background()
}

type fakeWriterCtx struct {
	subtask, par  int
	checkpointing bool
}

func (c fakeWriterCtx) Subtask() int         { return c.subtask }
func (c fakeWriterCtx) Parallelism() int     { return c.par }
func (c fakeWriterCtx) Checkpointing() bool  { return c.checkpointing }
func (c fakeWriterCtx) Logger() *slog.Logger { return quietLogger() }

// fakeOutput collects what a reader emits.
type fakeOutput[T any] struct {
	mu       sync.Mutex
	values   []T
	ts       []int64
	bySplit  map[string][]T
	released []string
	bad      []connector.BadRecord
	dead     bool // bad records go to a dead-letter output
}

func (o *fakeOutput[T]) Collect(v T) { o.CollectAt(v, -1) }
func (o *fakeOutput[T]) CollectAt(v T, ts int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.values = append(o.values, v)
	o.ts = append(o.ts, ts)
}
func (o *fakeOutput[T]) Split(id string) connector.SplitOutput[T] { return splitOut[T]{o, id} }
func (o *fakeOutput[T]) ReleaseSplit(id string)                   { o.released = append(o.released, id) }
func (o *fakeOutput[T]) Reject(b connector.BadRecord) error {
	o.bad = append(o.bad, b)
	if o.dead {
		return nil
	}
	return &connector.BadRecordError{Record: b}
}
func (o *fakeOutput[T]) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.values)
}

type splitOut[T any] struct {
	o  *fakeOutput[T]
	id string
}

func (s splitOut[T]) Collect(v T) { s.CollectAt(v, -1) }
func (s splitOut[T]) CollectAt(v T, ts int64) {
	s.o.CollectAt(v, ts)
	s.o.mu.Lock()
	if s.o.bySplit == nil {
		s.o.bySplit = map[string][]T{}
	}
	s.o.bySplit[s.id] = append(s.o.bySplit[s.id], v)
	s.o.mu.Unlock()
}

// pollUntil polls r until out holds n values (or fails after 20s).
func pollUntil[T any](t testing.TB, r connector.Reader[T], out *fakeOutput[T], n int) connector.InputStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var st connector.InputStatus
	for out.len() < n {
		var err error
		st, err = r.PollNext(out)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if st == connector.EndOfInput {
			break
		}
		if st == connector.NothingAvailable {
			select {
			case <-r.Available():
			case <-time.After(50 * time.Millisecond):
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %d of %d records", out.len(), n)
		}
	}
	return st
}
