package redis

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector"
)

// eoSink returns an exactly-once INCRBY sink on the shared server whose
// fences live under the test's prefix.
func eoSink(t *testing.T, u, p string, opts ...Option) *Sink[Command] {
	t.Helper()
	s, err := NewSink(IncrBy, identity, append([]Option{URL(u), ExactlyOnce(), FencePrefix(p + "fence:")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func eoWriter(t *testing.T, s *Sink[Command], restored [][]byte) *txWriter[Command] {
	t.Helper()
	w, err := s.NewWriter(testCtx{checkpointing: true}, restored)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w.(*txWriter[Command])
}

func eoCommitter(t *testing.T, s *Sink[Command]) connector.Committer {
	c, err := s.NewCommitter(testCtx{checkpointing: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func incr(t *testing.T, w *txWriter[Command], key string, n int) {
	t.Helper()
	for range n {
		if err := w.Write(context.Background(), Command{Key: key, By: 1}, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func preCommit(t *testing.T, w *txWriter[Command], id int64) [][]byte {
	t.Helper()
	c, err := w.PreCommit(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getInt(t *testing.T, cl *redis.Client, key string) int64 {
	t.Helper()
	v, err := cl.Get(context.Background(), key).Int64()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	return v
}

// TestCommitRepeated: a commit repeated (after a restore) applies nothing
// again, also when the checkpoint's commands were applied in several
// chunks.
func TestCommitRepeated(t *testing.T) {
	u, cl := needRedis(t)
	p := prefix(t, cl)
	ctx := context.Background()
	s := eoSink(t, u, p, MaxTransactionCommands(3))
	w := eoWriter(t, s, nil)
	incr(t, w, p+"n", 10)
	c := preCommit(t, w, 7)
	if len(c) != 1 {
		t.Fatalf("%d committables, want one per checkpoint", len(c))
	}
	for i := range 3 {
		if err := eoCommitter(t, s).Commit(ctx, 7, c); err != nil {
			t.Fatal(err)
		}
		if got := getInt(t, cl, p+"n"); got != 10 {
			t.Fatalf("after commit %d: %d, want 10", i+1, got)
		}
	}
	// Chunks 0..3 of 3, 3, 3 and 1 commands: the field records chunk 3
	// done up to command 1.
	eq(t, cl.HGet(ctx, w.fence, "7").Val(), "3:1")
	eq(t, cl.HGet(ctx, w.fence, "max").Val(), "7")
}

// TestCommitResumes: a command refused inside a chunk (WRONGTYPE) fails
// the commit permanently and leaves the commands before it applied; once
// the cause is removed, the commit again applies the rest, each command
// once.
func TestCommitResumes(t *testing.T) {
	u, cl := needRedis(t)
	p := prefix(t, cl)
	ctx := context.Background()
	cl.RPush(ctx, p+"list", "x")
	s := eoSink(t, u, p)
	w := eoWriter(t, s, nil)
	incr(t, w, p+"a", 2)
	incr(t, w, p+"list", 1)
	incr(t, w, p+"a", 3)
	c := preCommit(t, w, 1)
	err := eoCommitter(t, s).Commit(ctx, 1, c)
	if !errors.Is(err, connector.ErrRejected) || !connector.IsPermanent(err) {
		t.Fatalf("commit over a list: %v, want a permanent rejection", err)
	}
	t.Log(err)
	eq(t, getInt(t, cl, p+"a"), int64(2))
	cl.Del(ctx, p+"list")
	for range 2 {
		if err := eoCommitter(t, s).Commit(ctx, 1, c); err != nil {
			t.Fatal(err)
		}
		eq(t, getInt(t, cl, p+"a"), int64(5))
		eq(t, getInt(t, cl, p+"list"), int64(1))
	}
}

// TestCommitOutOfOrder: after a restore the runtime hands the
// committables of a checkpoint to any subtask, so those of one writer's
// checkpoints 5 and 6 may be committed by two subtasks in either order;
// each is applied once.
func TestCommitOutOfOrder(t *testing.T) {
	u, cl := needRedis(t)
	p := prefix(t, cl)
	ctx := context.Background()
	s := eoSink(t, u, p)
	w := eoWriter(t, s, nil)
	incr(t, w, p+"n", 5)
	c5 := preCommit(t, w, 5)
	incr(t, w, p+"n", 6)
	c6 := preCommit(t, w, 6)
	st, _ := w.SnapshotState(6)
	x, y := eoCommitter(t, s), eoCommitter(t, s)
	for range 2 {
		if err := x.Commit(ctx, 6, c6); err != nil {
			t.Fatal(err)
		}
		if err := y.Commit(ctx, 5, c5); err != nil {
			t.Fatal(err)
		}
		eq(t, getInt(t, cl, p+"n"), int64(11))
	}
	// The writer restored from checkpoint 6 carries the fence on; its
	// next checkpoint prunes the fields of 5 and 6.
	w2 := eoWriter(t, s, st)
	eq(t, w2.fence, w.fence)
	incr(t, w2, p+"n", 1)
	c7 := preCommit(t, w2, 7)
	if err := w2.NotifyCheckpointComplete(7); err != nil {
		t.Fatal(err)
	}
	if err := x.Commit(ctx, 7, c7); err != nil {
		t.Fatal(err)
	}
	eq(t, getInt(t, cl, p+"n"), int64(12))
	fields := cl.HKeys(ctx, w.fence).Val()
	slices.Sort(fields)
	eq(t, fields, []string{"7", "max"})
}

// TestFencePruned: a writer whose checkpoints complete one after another
// keeps one checkpoint field in its fence; one whose checkpoint 2 is
// still pending at checkpoint 3 keeps 2's field until 3 is committed.
func TestFencePruned(t *testing.T) {
	u, cl := needRedis(t)
	p := prefix(t, cl)
	ctx := context.Background()
	s := eoSink(t, u, p)
	w := eoWriter(t, s, nil)
	cm := eoCommitter(t, s)
	for id := int64(1); id <= 2; id++ {
		incr(t, w, p+"n", 1)
		c := preCommit(t, w, id)
		w.NotifyCheckpointComplete(id)
		if err := cm.Commit(ctx, id, c); err != nil {
			t.Fatal(err)
		}
	}
	fields := cl.HKeys(ctx, w.fence).Val()
	slices.Sort(fields)
	eq(t, fields, []string{"2", "max"})
	// Checkpoint 3 is pre-committed, but its completion is not known when
	// 4 is: 4's committable keeps 3's field.
	incr(t, w, p+"n", 1)
	c3 := preCommit(t, w, 3)
	incr(t, w, p+"n", 1)
	c4 := preCommit(t, w, 4)
	w.NotifyCheckpointComplete(4)
	if err := cm.Commit(ctx, 3, c3); err != nil {
		t.Fatal(err)
	}
	if err := cm.Commit(ctx, 4, c4); err != nil {
		t.Fatal(err)
	}
	fields = cl.HKeys(ctx, w.fence).Val()
	slices.Sort(fields)
	eq(t, fields, []string{"3", "4", "max"})
	eq(t, getInt(t, cl, p+"n"), int64(4))
}

// TestOutputAhead: restoring a checkpoint older than what the fence
// records as applied fails with ErrOutputAhead.
func TestOutputAhead(t *testing.T) {
	u, cl := needRedis(t)
	p := prefix(t, cl)
	ctx := context.Background()
	s := eoSink(t, u, p)
	w := eoWriter(t, s, nil)
	cm := eoCommitter(t, s)
	var st2 [][]byte
	for id := int64(1); id <= 3; id++ {
		incr(t, w, p+"n", 1)
		c := preCommit(t, w, id)
		st, _ := w.SnapshotState(id)
		if id == 2 {
			st2 = st
		}
		if err := cm.Commit(ctx, id, c); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.NewWriter(testCtx{checkpointing: true}, st2)
	if !errors.Is(err, connector.ErrOutputAhead) {
		t.Fatalf("restore of checkpoint 2 after 3 was applied: %v, want ErrOutputAhead", err)
	}
	t.Log(err)
	// The latest checkpoint restores.
	st3, _ := w.SnapshotState(3)
	eoWriter(t, s, st3)
	// A fresh start makes a new fence.
	if w2 := eoWriter(t, s, nil); w2.fence == w.fence {
		t.Fatalf("a fresh writer reuses fence %s", w.fence)
	}
}

func TestMaxPending(t *testing.T) {
	u, cl := needRedis(t)
	p := prefix(t, cl)
	s := eoSink(t, u, p, MaxPendingBytes(1000))
	w := eoWriter(t, s, nil)
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = w.Write(context.Background(), Command{Key: p + strconv.Itoa(i), By: 1}, 0)
	}
	if !errors.Is(err, connector.ErrConfig) {
		t.Fatalf("%v, want a config error", err)
	}
}
