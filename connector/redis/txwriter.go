package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector"
)

// txWriter is the exactly-once writer: it keeps the commands written
// since the last barrier and hands them over on the next one as one
// committable, which the committer applies when the checkpoint completes.
//
// Fences. Each writer applies its commands under a fence key, a hash
// <prefix><name>:<token> whose field <checkpoint> holds "<chunk>:<next
// command>" of what was applied, and field max the highest checkpoint
// applied. The token is random, made by a writer that restores no state
// (a fresh start, or a subtask added by a rescale), and carried on in the
// writer state, so one fence has one writer at a time, and its
// checkpoints only grow. Restored committables carry the fence they were
// written under: whichever subtask commits them after a restore or
// rescale, a repeated commit finds its field and skips what was applied.
type txWriter[T any] struct {
	s     *Sink[T]
	log   *slog.Logger
	fence string

	cmds    [][]string
	size    int
	pending []int64 // checkpoints with committables not yet known committed
	done    int64   // the highest checkpoint notified complete
}

func newTxWriter[T any](s *Sink[T], ctx connector.WriterContext, restored [][]byte) (*txWriter[T], error) {
	w := &txWriter[T]{s: s, log: ctx.Logger()}
	var states []writerState
	for _, b := range restored {
		st, err := decodeWriterState(b)
		if err != nil {
			return nil, connector.Permanent(fmt.Errorf("redis sink: restore subtask %d: %w", ctx.Subtask(), err))
		}
		states = append(states, st)
	}
	if len(states) > 0 {
		if err := checkNotAhead(s, states); err != nil {
			return nil, err
		}
		w.fence = states[0].fence
		w.done = states[0].checkpoint
		return w, nil
	}
	var tok [8]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	w.fence = s.cfg.fencePfx + s.cfg.fenceName + ":" + hex.EncodeToString(tok[:])
	return w, nil
}

// checkNotAhead refuses to resume behind output already applied: a fence
// that holds a checkpoint after the restored one means a later checkpoint
// was committed (an older checkpoint or savepoint is being restored).
func checkNotAhead[T any](s *Sink[T], states []writerState) error {
	cl := s.spec.new()
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.commitTO)
	defer cancel()
	for _, st := range states {
		var got string
		err := retry(ctx, func() error {
			v, err := cl.HGet(ctx, st.fence, "max").Result()
			if err == redis.Nil {
				v, err = "0", nil
			}
			got = v
			return classify(err, []string{"HGET", st.fence}, s.spec.where)
		})
		if err != nil {
			return err
		}
		if m, _ := strconv.ParseInt(got, 10, 64); m > st.checkpoint {
			return fmt.Errorf("redis sink: fence %s at %s holds checkpoint %d, and checkpoint %d is being restored: %w; "+
				"the commands of the checkpoints after %d were applied and would be applied again: restore the latest checkpoint, "+
				"or remove the output (and the fence key) to start over from this one", st.fence, s.spec.where, m, st.checkpoint,
				connector.ErrOutputAhead, st.checkpoint)
		}
	}
	return nil
}

func (w *txWriter[T]) Write(_ context.Context, v T, _ int64) error {
	cmds, err := w.s.commands(v)
	if err != nil {
		return err
	}
	for _, c := range cmds {
		w.size += argsSize(c)
		w.cmds = append(w.cmds, c)
	}
	if w.size > w.s.cfg.maxPending {
		return fmt.Errorf("redis sink: %w: more than %d bytes of commands between two checkpoints (%d commands): "+
			"shorten the checkpoint interval, or raise the bound (MaxPendingBytes, max_pending_bytes)", connector.ErrConfig, w.s.cfg.maxPending, len(w.cmds))
	}
	return nil
}

// Flush does nothing: the commands are applied when their checkpoint
// completes (the final checkpoint's PreCommit takes what is left).
func (w *txWriter[T]) Flush(context.Context) error { return nil }

// PreCommit hands over the commands since the last barrier as one
// committable (one per subtask and checkpoint, so that the runtime's
// redistribution of committables on restore keeps a checkpoint's chunks
// together and in order).
func (w *txWriter[T]) PreCommit(_ context.Context, checkpointID int64) ([][]byte, error) {
	if len(w.cmds) == 0 {
		return nil, nil
	}
	prune := checkpointID
	for _, id := range w.pending {
		prune = min(prune, id)
	}
	c := committable{fence: w.fence, prune: prune, cmds: w.cmds}
	b := c.encode()
	w.pending = append(w.pending, checkpointID)
	w.cmds, w.size = nil, 0
	return [][]byte{b}, nil
}

// SnapshotState records the fence and the checkpoint.
func (w *txWriter[T]) SnapshotState(checkpointID int64) ([][]byte, error) {
	return [][]byte{writerState{fence: w.fence, checkpoint: checkpointID}.encode()}, nil
}

// NotifyCheckpointComplete: the runtime commits everything up to id right
// after telling the writer (a failure there fails the job before the next
// barrier), so no later checkpoint holds those committables, and their
// fence fields may go.
func (w *txWriter[T]) NotifyCheckpointComplete(id int64) error {
	w.done = max(w.done, id)
	keep := w.pending[:0]
	for _, p := range w.pending {
		if p > id {
			keep = append(keep, p)
		}
	}
	w.pending = keep
	return nil
}

func (w *txWriter[T]) NotifyCheckpointAborted(int64) error { return nil }

func (w *txWriter[T]) Close() error { return nil }

// retry calls fn until it succeeds, fails permanently, or ctx ends, with
// a backoff from 50ms to 2s.
func retry(ctx context.Context, fn func() error) error {
	backoff := 50 * time.Millisecond
	var last error
	for {
		err := fn()
		if err == nil || connector.IsPermanent(err) {
			return err
		}
		if last == nil || ctx.Err() == nil {
			last = err // not the error of an attempt cut short by ctx
		}
		if ctx.Err() != nil {
			return last
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return last
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
