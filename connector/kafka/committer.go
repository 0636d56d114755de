package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/connector"
)

// commitRetryTimeout bounds how long the committer retries a commit that
// fails transiently; then the job fails and the restored job commits.
const commitRetryTimeout = time.Minute

// committer commits pre-committed transactions by sending EndTxn for the
// transactional id with the producer id and epoch the writer recorded: the
// transaction coordinator commits a transaction for whoever presents its
// producer id and current epoch, so a restored job commits the
// transactions of its checkpoint although the producers that wrote them
// are gone. (This is what Flink does through reflection into the Java
// producer; franz-go lets us send the request directly.)
type committer struct {
	cfg *sinkConfig
	log *slog.Logger

	mu sync.Mutex
	cl *kgo.Client
}

func newCommitter(cfg *sinkConfig, ctx connector.WriterContext) (*committer, error) {
	return &committer{cfg: cfg, log: ctx.Logger()}, nil
}

func (c *committer) client() (*kgo.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl == nil {
		cl, err := kgo.NewClient(c.cfg.conn.clientOpts(c.log)...)
		if err != nil {
			return nil, fmt.Errorf("kafka client: %w", err)
		}
		c.cl = cl
	}
	return c.cl, nil
}

// Commit commits the transactions in order. A transaction that is already
// committed counts as committed (after a restore, the committables of the
// restored checkpoint are committed again). One that was aborted, fenced
// or expired is reported with an error wrapping connector.ErrDataLoss.
func (c *committer) Commit(ctx context.Context, _ int64, committables [][]byte) error {
	if len(committables) == 0 {
		return nil
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	for _, b := range committables {
		t, err := decodeCommittable(b)
		if err != nil {
			return err
		}
		if err := c.commit(ctx, cl, t); err != nil {
			return err
		}
	}
	return nil
}

func (c *committer) commit(ctx context.Context, cl *kgo.Client, t *committable) error {
	ctx, cancel := context.WithTimeout(ctx, commitRetryTimeout)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID = t.TransactionalID
		req.ProducerID = t.ProducerID
		req.ProducerEpoch = t.ProducerEpoch
		req.Commit = true
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		switch {
		case err == nil:
			return nil
		case lost(err):
			return c.lossError(t, err)
		case !retriable(err):
			return fmt.Errorf("kafka sink: commit transaction %s (producer id %d, epoch %d) of checkpoint %d: %w",
				t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.Checkpoint, err)
		}
		if serr := sleep(ctx, backoff); serr != nil {
			return fmt.Errorf("kafka sink: commit transaction %s of checkpoint %d: gave up retrying: %w (last error: %w)",
				t.TransactionalID, t.Checkpoint, serr, err)
		}
		backoff = min(2*backoff, time.Second)
	}
}

// lost reports whether EndTxn's error means the transaction can no longer
// commit: a newer producer epoch (fenced by another producer or by the
// broker aborting it on timeout; brokers answer PRODUCER_FENCED or, like
// older ones, INVALID_PRODUCER_EPOCH), a transaction that ended aborted
// (INVALID_TXN_STATE), a producer id that no longer maps to the id
// (expired), or a transaction the broker wants aborted.
func lost(err error) bool {
	for _, e := range []*kerr.Error{kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.InvalidTxnState,
		kerr.InvalidProducerIDMapping, kerr.TransactionalIDNotFound, kerr.TransactionAbortable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (c *committer) lossError(t *committable, err error) error {
	return fmt.Errorf("kafka sink: transaction %s (producer id %d, epoch %d) of checkpoint %d cannot be committed: %w: "+
		"its records are lost although the checkpoint completed. Likely causes: the transaction timeout (%v) expired before the commit "+
		"(raise kafka.TransactionTimeout, or restart failed jobs sooner); another producer uses the transactional id prefix %q "+
		"(it must be unique to the job); or the restored checkpoint is older than the latest one, and its transactions were committed "+
		"and their ids reused since: %w",
		t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.Checkpoint, connector.ErrDataLoss, c.cfg.txnTimeout, c.cfg.prefix, err)
}

func (c *committer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl != nil {
		c.cl.Close()
		c.cl = nil
	}
	return nil
}
