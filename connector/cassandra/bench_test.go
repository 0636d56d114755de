package cassandra

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkDirectWriter measures rows per second of the direct writer
// against the stand-in on loopback (one subtask, MaxInFlight 64): a
// figure for the sink's own overhead, not for Cassandra.
func BenchmarkDirectWriter(b *testing.B) {
	cl := standIn(b)
	s := mustSink(b, "INSERT INTO kv (k, v) VALUES (?, ?)", bindKV, fast(cl)...)
	w, err := s.NewWriter(wctx{checkpointing: true}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ResetTimer()
	for i := range b.N {
		if err := w.Write(context.Background(), kv{strconv.Itoa(i), int64(i)}, 0); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWriteAheadCommit measures rows per second of a write-ahead
// commit of counter updates (chunks of 32 in counter batches).
func BenchmarkWriteAheadCommit(b *testing.B) {
	cl := standIn(b)
	s := mustSink(b, counterStmt, bindInc, append(fast(cl), WriteAhead("bench"))...)
	ctx := wctx{checkpointing: true, parallelism: 1}
	w, err := s.NewWriter(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	c, err := s.NewCommitter(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := w.Write(context.Background(), inc{strconv.Itoa(i % 1000), 1}, 0); err != nil {
			b.Fatal(err)
		}
	}
	cm, err := w.(interface {
		PreCommit(context.Context, int64) ([][]byte, error)
	}).PreCommit(context.Background(), 1)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Commit(context.Background(), 1, cm); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
