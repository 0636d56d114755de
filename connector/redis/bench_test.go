package redis

import (
	"context"
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/connector"
)

// Results, 2026-12-07, 2 shared cores, redis-server 7.0.15 on loopback,
// commit ef8683d (go test -bench . -benchtime 200000x):
//
//	BenchmarkWrite-2         200000    3613 ns/op   (about 277,000 INCRBY/s)
//	BenchmarkExactlyOnce-2   200000    8053 ns/op   (about 124,000 INCRBY/s)

// BenchmarkWrite: commands per second of the pipelined (at-least-once)
// writer, flushed every 1000 commands, against the shared server.
func BenchmarkWrite(b *testing.B) {
	u, cl := needRedis(b)
	p := prefix(b, cl)
	s, err := NewSink(IncrBy, identity, URL(u))
	if err != nil {
		b.Fatal(err)
	}
	w, _ := s.NewWriter(testCtx{checkpointing: true}, nil)
	defer w.Close()
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if err := w.Write(ctx, Command{Key: p + strconv.Itoa(i%1000), By: 1}, 0); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkExactlyOnce: commands per second of the exactly-once sink,
// pre-committed and committed every 10000 commands (the commit's Lua
// scripts dominate).
func BenchmarkExactlyOnce(b *testing.B) {
	u, cl := needRedis(b)
	p := prefix(b, cl)
	s, err := NewSink(IncrBy, identity, URL(u), ExactlyOnce(), FencePrefix(p+"fence:"))
	if err != nil {
		b.Fatal(err)
	}
	w, _ := s.NewWriter(testCtx{checkpointing: true}, nil)
	defer w.Close()
	cm, _ := s.NewCommitter(testCtx{})
	defer cm.Close()
	ctx := context.Background()
	id := int64(0)
	commit := func() {
		id++
		c, err := w.(connector.PreCommitter).PreCommit(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		w.(connector.CheckpointListener).NotifyCheckpointComplete(id)
		if err := cm.Commit(ctx, id, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if err := w.Write(ctx, Command{Key: p + strconv.Itoa(i%1000), By: 1}, 0); err != nil {
			b.Fatal(err)
		}
		if i%10000 == 9999 {
			commit()
		}
	}
	commit()
}
