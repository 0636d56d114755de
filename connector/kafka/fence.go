package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// abortPlan is what a starting exactly-once writer learned from its
// restored state.
type abortPlan struct {
	// own is the restored state of this subtask's pool, if any.
	own *writerState
	// candidates are the transactional ids whose open transaction, if any,
	// is left over from a failed run and must be aborted.
	candidates []string
}

// planAbort decides which transactional ids the writer of subtask (of
// parallelism) checks for lingering transactions when it starts.
//
// Every old subtask's pool is handled by exactly one new writer: the one
// that restores the old subtask's state entry. The runtime redistributes
// the entries round-robin in subtask order, so old subtask s goes to new
// subtask s mod parallelism; in particular a subtask that existed before
// gets its own entry, so it knows which of its ids hold transactions of
// the restored checkpoint (reserved: committed by the committers at
// start, never aborted, not reused before a checkpoint of this run
// completes). A writer aborts:
//   - every id of each restored pool that its entry does not reserve
//     (this covers the subtasks that a scale-down removed);
//   - every id of its own pool under the current prefix and size that is
//     not reserved (a subtask new in this run has no entry and no
//     reserved ids);
//   - every id of the subtasks s >= parallelism, s mod parallelism ==
//     subtask, below AbortLingeringBelow that no entry describes.
//
// Only transactions in state Ongoing are aborted (see abortLingering), so
// committed ones keep the producer epoch a restore of an older checkpoint
// needs to find them committed.
func planAbort(cfg *sinkConfig, subtask, parallelism int, entries []*writerState) (abortPlan, error) {
	var plan abortPlan
	seen := map[string]bool{}
	add := func(prefix string, s, n int, reserved map[int]bool) {
		for k := range n {
			id := transactionalID(prefix, s, k)
			if !reserved[k] && !seen[id] {
				seen[id] = true
				plan.candidates = append(plan.candidates, id)
			}
		}
	}
	have := map[int]bool{}
	oldP := 0
	for _, e := range entries {
		if e.Subtask%parallelism != subtask {
			return plan, fmt.Errorf("kafka sink: the writer state of old subtask %d was restored into subtask %d of %d; "+
				"the exactly-once sink relies on the state of old subtask s going to new subtask s mod parallelism "+
				"(round-robin in subtask order) to know which of its transactions are pending", e.Subtask, subtask, parallelism)
		}
		if have[e.Subtask] {
			return plan, fmt.Errorf("kafka sink: writer state of old subtask %d restored twice", e.Subtask)
		}
		have[e.Subtask] = true
		oldP = max(oldP, e.Parallelism)
		if e.Subtask == subtask {
			plan.own = e
		}
	}
	for s := subtask; s < oldP; s += parallelism {
		if !have[s] {
			return plan, fmt.Errorf("kafka sink: the checkpoint was taken at parallelism %d, but the writer state of old subtask %d did not reach subtask %d of %d",
				oldP, s, subtask, parallelism)
		}
	}
	var ownReserved map[int]bool
	for _, e := range entries {
		res := e.reservedSet()
		if e == plan.own && e.Prefix == cfg.prefix {
			ownReserved = res
		}
		add(e.Prefix, e.Subtask, e.PoolSize, res)
	}
	add(cfg.prefix, subtask, cfg.poolSize, ownReserved)
	for s := subtask + parallelism; s < max(cfg.abortBelow, oldP); s += parallelism {
		if !have[s] {
			add(cfg.prefix, s, cfg.poolSize, nil)
		}
	}
	return plan, nil
}

// abortLingering aborts the open transactions of ids: it describes them
// and fences those in state Ongoing with InitProducerID, which aborts the
// transaction and bumps the producer epoch. When the brokers cannot
// describe transactions, every id is fenced.
func abortLingering(ctx context.Context, cfg *sinkConfig, ids []string, log *slog.Logger) error {
	if len(ids) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(cfg.conn.clientOpts(log)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	fence := ids
	described, err := kadm.NewClient(cl).DescribeTransactions(ctx, ids...)
	if err != nil {
		log.Info("kafka sink: cannot describe transactions; fencing every transactional id of the pool", "err", err)
	} else {
		fence = fence[:0:0]
		for _, id := range ids {
			d, ok := described[id]
			switch {
			case !ok || errors.Is(d.Err, kerr.TransactionalIDNotFound):
			case d.Err != nil:
				fence = append(fence, id) // cannot tell: fence to be sure
			case d.State == "Ongoing":
				fence = append(fence, id)
			}
		}
	}
	for _, id := range fence {
		if err := initProducerID(ctx, cl, id, cfg.txnTimeout); err != nil {
			return err
		}
		log.Info("kafka sink: aborted a transaction left open by an earlier run", "transactional-id", id)
	}
	return nil
}

// initProducerID fences the producers of id, aborting its open
// transaction.
func initProducerID(ctx context.Context, cl *kgo.Client, id string, timeout time.Duration) error {
	backoff := 20 * time.Millisecond
	for {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &id
		req.TransactionTimeoutMillis = int32(timeout.Milliseconds())
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, kerr.InvalidTransactionTimeout):
			return fmt.Errorf("the brokers refuse transaction timeout %v: it exceeds their transaction.max.timeout.ms; lower kafka.TransactionTimeout or raise that broker setting: %w", timeout, err)
		case !retriable(err):
			return fmt.Errorf("fence transactional id %s: %w", id, err)
		}
		if serr := sleep(ctx, backoff); serr != nil {
			return fmt.Errorf("fence transactional id %s: %w (last error: %w)", id, serr, err)
		}
		backoff = min(2*backoff, time.Second)
	}
}

// retriable reports whether a transaction request may succeed when sent
// again: coordinator moves and loads, concurrent transaction state
// changes, and failures to reach the broker.
func retriable(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable || ke == kerr.ConcurrentTransactions
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
