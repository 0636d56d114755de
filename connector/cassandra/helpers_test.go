package cassandra

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/cassandra/cqltest"
)

// wctx is a connector.WriterContext for tests.
type wctx struct {
	subtask, parallelism int
	checkpointing        bool
}

func (w wctx) Subtask() int         { return w.subtask }
func (w wctx) Parallelism() int     { return max(w.parallelism, 1) }
func (w wctx) Checkpointing() bool  { return w.checkpointing }
func (w wctx) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// standIn starts a stand-in cluster with keyspace ks and the tables the
// tests use.
func standIn(t testing.TB, opts ...cqltest.Option) *cqltest.Cluster {
	t.Helper()
	cl, err := cqltest.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	liveClusters.put(cl)
	t.Cleanup(func() { liveClusters.drop(cl) })
	if err := cl.Exec(
		"CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
		"CREATE TABLE ks.kv (k text PRIMARY KEY, v bigint, d double, tags list<text>)",
		"CREATE TABLE ks.counts (k text PRIMARY KEY, n counter)",
		"CREATE TABLE ks.events (k text, seq int, body text, PRIMARY KEY ((k), seq))",
	); err != nil {
		t.Fatal(err)
	}
	return cl
}

// fast are options that keep the tests quick.
func fast(cl *cqltest.Cluster) []Option {
	return []Option{Hosts(cl.Addrs()...), Keyspace("ks"), RetryBackoff(5*time.Millisecond, 20*time.Millisecond),
		Timeout(5 * time.Second), ConnectTimeout(5 * time.Second)}
}

func rows(t testing.TB, cl *cqltest.Cluster, table string) []map[string]any {
	t.Helper()
	r, err := cl.Store().Rows("ks", table)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustSink[T any](t testing.TB, stmt string, bind Binder[T], opts ...Option) *Sink[T] {
	t.Helper()
	s, err := NewSink(stmt, bind, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeAll[T any](t testing.TB, w connector.Writer[T], vs ...T) {
	t.Helper()
	for _, v := range vs {
		if err := w.Write(context.Background(), v, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type kv struct {
	K string
	V int64
}

func bindKV(v kv) ([]any, error) { return []any{v.K, v.V}, nil }

func credentialsOpt() cqltest.Option { return cqltest.Credentials("writer", "pw-from-env") }

// liveClusters finds the stand-in clusters of this process by address.
var liveClusters = &clusterIndex{m: map[string]*cqltest.Cluster{}}

type clusterIndex struct {
	mu sync.Mutex
	m  map[string]*cqltest.Cluster
}

func (c *clusterIndex) put(cl *cqltest.Cluster) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range cl.Addrs() {
		c.m[a] = cl
	}
}

func (c *clusterIndex) drop(cl *cqltest.Cluster) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range cl.Addrs() {
		delete(c.m, a)
	}
}

func (c *clusterIndex) get(addr string) *cqltest.Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[addr]
}
