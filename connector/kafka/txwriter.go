package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
)

// closeAbortTimeout bounds how long Close tries to abort the open
// transaction (the next start aborts it anyway).
const closeAbortTimeout = 5 * time.Second

// txWriter is the exactly-once writer. Records between two barriers go
// into one transaction, produced by a transactional client of its own
// (transactional id from the subtask's pool). On the barrier PreCommit
// flushes, takes the producer id and epoch, and closes the client without
// ending the transaction: the committer ends it with EndTxn once the
// checkpoint completes, from this process or from a restored one, which is
// the same request either way.
type txWriter[T any] struct {
	cfg         *sinkConfig
	ser         Serializer[T]
	log         *slog.Logger
	subtask     int
	parallelism int

	pool        pool
	lastBarrier int64

	cur *openTxn
}

// checkpointTiming is the capability of a WriterContext to tell the job's
// checkpoint interval and timeout (proposed for connector.WriterContext;
// until the runtime offers it, ExpectCheckpoints says what to assume).
type checkpointTiming interface {
	CheckpointTiming() (interval, timeout time.Duration)
}

type openTxn struct {
	slot    int
	id      string
	cl      *kgo.Client
	perr    produceErr
	promise func(*kgo.Record, error)
}

func newTxWriter[T any](cfg *sinkConfig, ser Serializer[T], ctx connector.WriterContext, restored [][]byte) (*txWriter[T], error) {
	w := &txWriter[T]{cfg: cfg, ser: ser, log: ctx.Logger(), subtask: ctx.Subtask(), parallelism: ctx.Parallelism(),
		pool: pool{slots: make([]slot, cfg.poolSize)}}
	if ct, ok := ctx.(checkpointTiming); ok {
		// The runtime tells the job's checkpoint timing: validate against
		// it rather than what ExpectCheckpoints assumed.
		c := *cfg
		c.cpInterval, c.cpTimeout = ct.CheckpointTiming()
		c.cpExpected = true
		if err := c.checkTimeout(); err != nil {
			return nil, fmt.Errorf("kafka sink: %w", err)
		}
	} else if !cfg.cpExpected && w.subtask == 0 {
		w.log.Info("kafka sink: the transaction timeout is validated against the runtime's default checkpoint timeout; pass the job's checkpoint interval and timeout to kafka.ExpectCheckpoints",
			"transaction-timeout", cfg.txnTimeout)
	}
	var entries []*writerState
	for _, b := range restored {
		st, err := decodeWriterState(b)
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		entries = append(entries, st)
	}
	plan, err := planAbort(cfg, w.subtask, w.parallelism, entries)
	if err != nil {
		return nil, err
	}
	if own := plan.own; own != nil && own.Prefix == cfg.prefix {
		// The committers commit the pending transactions when the job
		// opens; the pool keeps their ids reserved.
		w.lastBarrier = own.Checkpoint
		w.pool.restore(own)
	}
	actx, cancel := context.WithTimeout(context.Background(), cfg.deliveryTimeout)
	defer cancel()
	if err := abortLingering(actx, cfg, plan.candidates, w.log); err != nil {
		return nil, fmt.Errorf("kafka sink: abort lingering transactions: %w", err)
	}
	return w, nil
}

// begin opens the transaction for the records up to the next barrier.
func (w *txWriter[T]) begin(ctx context.Context) error {
	// Keep one id that the next snapshot does not hold as pending: a job
	// restored from that snapshot needs it to write before any of its
	// checkpoints completes.
	pending := w.pool.count(slotPending)
	n, degraded := -1, false
	if pending < len(w.pool.slots)-1 {
		n, degraded = w.pool.acquire()
	}
	if n < 0 {
		return fmt.Errorf("kafka sink: no transactional id of subtask %d is free: %d of %d hold transactions pre-committed for checkpoints "+
			"that have not completed, the others transactions the latest completed checkpoint holds; checkpoints are failing or slow: "+
			"raise kafka.TransactionPoolSize or fix the checkpoints (the restored job commits what is pending)",
			w.subtask, pending, len(w.pool.slots))
	}
	if degraded {
		w.log.Warn("kafka sink: reusing a transactional id that the second latest completed checkpoint holds, because all ids are in use; "+
			"restoring that checkpoint (rather than the latest) would report its transactions as lost; raise kafka.TransactionPoolSize",
			"transactional-id", transactionalID(w.cfg.prefix, w.subtask, n), "pool", len(w.pool.slots))
	}
	id := transactionalID(w.cfg.prefix, w.subtask, n)
	opts := append(w.cfg.producerClientOpts(w.log), kgo.TransactionalID(id), kgo.TransactionTimeout(w.cfg.txnTimeout))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		w.pool.slots[n] = slot{}
		return fmt.Errorf("kafka client: %w", err)
	}
	// Initialize the producer id now, for a clear error if the broker
	// refuses the transaction timeout.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		w.pool.slots[n] = slot{}
		if errors.Is(err, kerr.InvalidTransactionTimeout) {
			return fmt.Errorf("kafka sink: the brokers refuse transaction timeout %v: it exceeds their transaction.max.timeout.ms; lower kafka.TransactionTimeout or raise that broker setting: %w", w.cfg.txnTimeout, err)
		}
		return fmt.Errorf("kafka sink: init transactional producer %s: %w", id, err)
	}
	if err := cl.BeginTransaction(); err != nil {
		cl.Close()
		w.pool.slots[n] = slot{}
		return fmt.Errorf("kafka sink: begin transaction %s: %w", id, err)
	}
	t := &openTxn{slot: n, id: id, cl: cl}
	t.promise = t.perr.promise
	w.cur = t
	return nil
}

func (w *txWriter[T]) Write(ctx context.Context, v T, ts int64) error {
	if w.cur == nil {
		if err := w.begin(ctx); err != nil {
			return err
		}
	} else if err := w.cur.perr.get(); err != nil {
		return err
	}
	rec, err := record(w.cfg, w.ser, v, ts)
	if err != nil {
		return err
	}
	w.cur.cl.Produce(ctx, rec, w.cur.promise)
	return nil
}

// Flush waits until Kafka acknowledged every record of the open
// transaction (end of input: the final checkpoint then pre-commits it).
func (w *txWriter[T]) Flush(ctx context.Context) error {
	if w.cur == nil {
		return nil
	}
	if err := w.cur.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka sink: flush transaction %s: %w", w.cur.id, err)
	}
	return w.cur.perr.get()
}

// PreCommit flushes the open transaction and returns its committable. The
// transaction stays open in Kafka until the committer ends it.
func (w *txWriter[T]) PreCommit(ctx context.Context, checkpointID int64) ([][]byte, error) {
	w.lastBarrier = max(w.lastBarrier, checkpointID)
	if w.cur == nil {
		return nil, nil
	}
	t := w.cur
	if err := w.Flush(ctx); err != nil {
		return nil, err
	}
	pid, epoch, err := t.cl.ProducerID(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: producer id of transaction %s: %w", t.id, err)
	}
	// Closing the client does not end the transaction.
	t.cl.Close()
	w.cur = nil
	w.pool.slots[t.slot] = slot{state: slotPending, pre: checkpointID, pid: pid, epoch: epoch}
	c := committable{TransactionalID: t.id, ProducerID: pid, ProducerEpoch: epoch, Checkpoint: checkpointID}
	return [][]byte{c.encode()}, nil
}

// SnapshotState records the pool (after PreCommit of the same barrier).
func (w *txWriter[T]) SnapshotState(checkpointID int64) ([][]byte, error) {
	st := writerState{Prefix: w.cfg.prefix, Subtask: w.subtask, Parallelism: w.parallelism,
		PoolSize: len(w.pool.slots), Next: w.pool.next, Checkpoint: checkpointID}
	st.Reserved = w.pool.reserved()
	return [][]byte{st.encode()}, nil
}

// NotifyCheckpointComplete is called before the committer commits the
// checkpoint's transactions.
func (w *txWriter[T]) NotifyCheckpointComplete(id int64) error {
	w.pool.completed(id, w.lastBarrier)
	return nil
}

func (w *txWriter[T]) NotifyCheckpointAborted(int64) error { return nil }

// Close aborts the open transaction, whose records belong to no
// checkpoint; pre-committed ones stay for the committer of a restored job.
func (w *txWriter[T]) Close() error {
	t := w.cur
	if t == nil {
		return nil
	}
	w.cur = nil
	ctx, cancel := context.WithTimeout(context.Background(), closeAbortTimeout)
	defer cancel()
	if err := t.cl.AbortBufferedRecords(ctx); err == nil {
		if err := t.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
			w.log.Warn("kafka sink: abort of the open transaction failed; the next start aborts it", "transactional-id", t.id, "err", err)
		}
	}
	t.cl.Close()
	return nil
}
