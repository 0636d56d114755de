package kafka

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
)

// Serializer turns an element into the Kafka record to produce. A record
// without a Topic goes to the sink's DefaultTopic; one without a
// Timestamp gets the element's event timestamp when it has one (else the
// produce time). The sink owns the returned record. An error fails the job.
type Serializer[T any] func(v T) (*kgo.Record, error)

// ValueSerializer produces fn(v) as the value of a record without key to
// topic ("" means the sink's DefaultTopic).
func ValueSerializer[T any](topic string, fn func(v T) ([]byte, error)) Serializer[T] {
	return func(v T) (*kgo.Record, error) {
		b, err := fn(v)
		if err != nil {
			return nil, err
		}
		return &kgo.Record{Topic: topic, Value: b}, nil
	}
}

// KeyValueSerializer produces records with the key, value and headers fn
// returns. Records with the same key go to the same partition (the
// default partitioner hashes keys like the Java client does).
func KeyValueSerializer[T any](topic string, fn func(v T) (key, value []byte, headers []Header, err error)) Serializer[T] {
	return func(v T) (*kgo.Record, error) {
		k, val, hs, err := fn(v)
		if err != nil {
			return nil, err
		}
		return &kgo.Record{Topic: topic, Key: k, Value: val, Headers: hs}, nil
	}
}

// StringSerializer produces strings as values without key.
func StringSerializer(topic string) Serializer[string] {
	return func(v string) (*kgo.Record, error) { return &kgo.Record{Topic: topic, Value: []byte(v)}, nil }
}

// JSONSerializer produces the JSON encoding of elements (encoding/json) as
// values, keyed by key(v) when key is not nil.
func JSONSerializer[T any](topic string, key func(v T) []byte) Serializer[T] {
	return func(v T) (*kgo.Record, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		r := &kgo.Record{Topic: topic, Value: b}
		if key != nil {
			r.Key = key(v)
		}
		return r, nil
	}
}

// Defaults of the sink's options.
const (
	// DefaultTransactionTimeout is the default of TransactionTimeout: the
	// brokers' default transaction.max.timeout.ms.
	DefaultTransactionTimeout = 15 * time.Minute
	// DefaultTransactionPoolSize is the default of TransactionPoolSize.
	DefaultTransactionPoolSize = 8
	minPoolSize                = 4
	// RestartBudget is the time the transaction timeout must leave, beyond
	// the checkpoint interval and timeout, for a job that fails after a
	// checkpoint completed to restart and commit that checkpoint's
	// transactions.
	RestartBudget = time.Minute
	// assumedCheckpointTimeout is the job's checkpoint timeout assumed
	// when ExpectCheckpoints was not given: the runtime's default.
	assumedCheckpointTimeout = 10 * time.Minute
)

type sinkConfig struct {
	conn         connConfig
	topic        string
	exactlyOnce  bool
	prefix       string
	txnTimeout   time.Duration
	poolSize     int
	cpInterval   time.Duration
	cpTimeout    time.Duration
	cpExpected   bool
	abortBelow   int
	producerOpts []kgo.Opt
	// deliveryTimeout bounds how long a record may wait to be acknowledged
	// (retries included) before the sink fails.
	deliveryTimeout time.Duration
}

// DefaultDeliveryTimeout is how long the sink waits for a record to be
// acknowledged, retries included, before it fails the job (which restarts
// from its latest checkpoint): Kafka's own default for delivery.timeout.ms.
const DefaultDeliveryTimeout = 2 * time.Minute

// DeliveryTimeout sets how long a record may wait to be acknowledged by
// the brokers, retries included, before the sink fails (default
// DefaultDeliveryTimeout; at least 1s). It also bounds how long an
// exactly-once sink tries, when it opens, to abort the transactions an
// earlier run left open. Without a bound, a sink whose brokers are
// unreachable or refuse its login would wait for ever.
func DeliveryTimeout(d time.Duration) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.deliveryTimeout = d })
}

// DefaultTopic is the topic of records whose serializer leaves Topic empty.
func DefaultTopic(topic string) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.topic = topic })
}

// ExactlyOnce makes the sink transactional: each subtask writes the
// records between two checkpoint barriers in one Kafka transaction, which
// is committed when the checkpoint completes. Consumers see the records
// exactly once if they read with isolation read_committed (the default of
// this package's source).
//
// The transactional ids are prefix-<subtask>-<n> with n below
// TransactionPoolSize: they do not grow with the number of checkpoints.
// The prefix must be unique to the job (two jobs with one prefix fence
// each other's transactions) and stay the same across restores, so that a
// restored job can commit the transactions of its checkpoint and abort
// those its failed run left open.
//
// Without checkpoints the sink is at-least-once: see Sink.Declare.
func ExactlyOnce(prefix string) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.exactlyOnce, c.prefix = true, prefix })
}

// TransactionTimeout sets the transaction timeout of the exactly-once
// sink (default 15m, the brokers' default transaction.max.timeout.ms,
// which caps it). A transaction is open from its first record until the
// checkpoint after it completes, and, if the job fails in between, until
// the restored job commits it; a broker aborts a transaction older than
// its timeout, and its records are lost. The sink therefore refuses a
// timeout shorter than checkpoint interval + checkpoint timeout +
// RestartBudget (see ExpectCheckpoints).
func TransactionTimeout(d time.Duration) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.txnTimeout = d })
}

// TransactionPoolSize sets how many transactional ids each subtask of the
// exactly-once sink uses in turn (default 8, at least 4). An id is in use
// from its transaction's first record until neither of the two latest
// completed checkpoints holds the transaction, so that restoring the
// latest checkpoint, or the one before it, never finds one of its
// transactions fenced by a newer one: four ids suffice while every
// checkpoint completes (one being written, one pre-committed, two
// committed); each checkpoint that fails or is still in flight
// (MaxConcurrent > 1) holds one more. When ids run short the sink reuses
// one that only the second latest checkpoint holds, and logs a warning;
// when all but one hold transactions pre-committed for checkpoints that
// have not completed, the job fails, and the restored job commits them.
func TransactionPoolSize(n int) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.poolSize = n })
}

// ExpectCheckpoints tells the exactly-once sink the job's checkpoint
// interval and timeout (runtime.CheckpointConfig Interval and Timeout; a
// zero timeout means the runtime's default of 10m), against which it
// validates TransactionTimeout. Without it the sink assumes interval 0 and
// the default timeout. (Sinks cannot see the job's checkpoint
// configuration yet.)
func ExpectCheckpoints(interval, timeout time.Duration) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.cpInterval, c.cpTimeout, c.cpExpected = interval, timeout, true })
}

// AbortLingeringBelow makes the exactly-once sink abort, when it starts,
// the open transactions of every subtask index below n, not only of those
// its restored state names (default 0). The state names the subtasks of
// the checkpoint's run; use this after a run at a higher parallelism whose
// state is not the one restored (a fresh start, or a restore of an older
// checkpoint or savepoint), so that its open transactions do not hold back
// read_committed consumers until they time out.
func AbortLingeringBelow(n int) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.abortBelow = n })
}

// ProducerOptions adds franz-go producer options (linger, batch size,
// compression, acks...) to the sink's producers, after the connector's own.
func ProducerOptions(opts ...kgo.Opt) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.producerOpts = append(c.producerOpts, opts...) })
}

// Sink writes elements to Kafka: at-least-once by default (every
// checkpoint barrier waits until every record produced before it is
// acknowledged), exactly-once with ExactlyOnce (one transaction per
// checkpoint and subtask).
type Sink[T any] struct {
	cfg sinkConfig
	ser Serializer[T]
}

// NewSink returns a sink that produces ser(v) for every element v. It
// validates the configuration, in particular the transaction timeout of an
// exactly-once sink against the checkpoint timing (ExpectCheckpoints).
func NewSink[T any](ser Serializer[T], opts ...SinkOption) (*Sink[T], error) {
	s := &Sink[T]{ser: ser, cfg: sinkConfig{txnTimeout: DefaultTransactionTimeout, poolSize: DefaultTransactionPoolSize, deliveryTimeout: DefaultDeliveryTimeout}}
	for _, o := range opts {
		o.applySink(&s.cfg)
	}
	c := &s.cfg
	errs := append([]error(nil), c.conn.errs...)
	if ser == nil {
		errs = append(errs, errors.New("no serializer"))
	}
	if g := c.conn.sasl; g != nil && ser != nil {
		g.setWhat("kafka sink " + c.topic)
		// The producer retries a rejected login for ever: the next
		// record fails the sink instead.
		s.ser = func(v T) (*kgo.Record, error) {
			if err := g.err(); err != nil {
				return nil, err
			}
			return ser(v)
		}
	}
	if len(c.conn.brokers) == 0 {
		errs = append(errs, errors.New("no brokers: use kafka.Brokers"))
	}
	if c.deliveryTimeout < time.Second {
		errs = append(errs, fmt.Errorf("DeliveryTimeout %v must be at least 1s", c.deliveryTimeout))
	}
	if c.abortBelow < 0 {
		errs = append(errs, fmt.Errorf("AbortLingeringBelow %d is negative", c.abortBelow))
	}
	if c.exactlyOnce {
		if c.prefix == "" || len(c.prefix) > 200 {
			errs = append(errs, fmt.Errorf("transactional id prefix %q must have 1 to 200 bytes", c.prefix))
		}
		if c.poolSize < minPoolSize || c.poolSize > maxPoolSize {
			errs = append(errs, fmt.Errorf("TransactionPoolSize %d must be between %d and %d", c.poolSize, minPoolSize, maxPoolSize))
		}
		if err := c.checkTimeout(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	return s, nil
}

// checkTimeout refuses a transaction timeout that a transaction can
// outlive without anything having failed.
func (c *sinkConfig) checkTimeout() error {
	interval, timeout := c.cpInterval, c.cpTimeout
	if timeout <= 0 {
		timeout = assumedCheckpointTimeout
	}
	need := interval + timeout + RestartBudget
	if c.txnTimeout < need {
		known := "the job's checkpoint timeout is assumed to be the runtime's default"
		if c.cpExpected {
			known = "as given by kafka.ExpectCheckpoints"
		}
		return fmt.Errorf("transaction timeout %v is shorter than checkpoint interval %v + checkpoint timeout %v + %v to restart and commit (%s): "+
			"the broker could abort a transaction before the checkpoint holding it commits it, losing its records; "+
			"raise kafka.TransactionTimeout (brokers cap it at transaction.max.timeout.ms, 15m by default), "+
			"or shorten the job's checkpoint interval and timeout (runtime.CheckpointConfig) and pass them to kafka.ExpectCheckpoints",
			c.txnTimeout, interval, timeout, RestartBudget, known)
	}
	return nil
}

// Declare: at-least-once by flushing on every barrier, or exactly-once
// with transactions. An exactly-once sink in a job without checkpoints is
// downgraded to at-least-once, loudly: a transaction commits when its
// checkpoint completes, so without checkpoints there is no commit point
// but the end of the input, and an unbounded job would keep one
// transaction open until the broker aborts it. The writer then produces
// without transactions (idempotently) and logs a warning.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	c := &s.cfg
	switch {
	case c.exactlyOnce && checkpointing:
		return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: fmt.Sprintf(
			"one Kafka transaction per checkpoint and subtask (transactional ids %s-<subtask>-<0..%d>), committed when the checkpoint completes; "+
				"transaction timeout %v; consumers must read with isolation read_committed", c.prefix, c.poolSize-1, c.txnTimeout)}
	case c.exactlyOnce:
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "exactly-once was configured, but transactions commit when checkpoints complete " +
			"and the job takes none: downgraded to at-least-once (idempotent producer, flushed at the end of input; a job started over produces again)"}
	case checkpointing:
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "every checkpoint barrier waits until Kafka acknowledged every record produced before it; " +
			"records produced after the last completed checkpoint are produced again after a restore"}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "no checkpoints: records are flushed at the end of input; a job started over produces them again"}
}

// NewWriter returns the writer of one sink subtask: transactional when
// the sink is exactly-once and the job takes checkpoints.
func (s *Sink[T]) NewWriter(ctx connector.WriterContext, restored [][]byte) (connector.Writer[T], error) {
	if err := checkTopic(&s.cfg, s.cfg.topic, ctx.Logger()); err != nil {
		return nil, err
	}
	if s.cfg.exactlyOnce {
		if ctx.Checkpointing() {
			return newTxWriter(&s.cfg, s.ser, ctx, restored)
		}
		if ctx.Subtask() == 0 {
			ctx.Logger().Warn("kafka sink: exactly-once needs checkpoints; the job takes none, so the sink is downgraded to at-least-once")
		}
	}
	return newWriter(&s.cfg, s.ser, ctx)
}

// NewCommitter returns the committer of one sink subtask, which commits
// the transactions of completed checkpoints.
func (s *Sink[T]) NewCommitter(ctx connector.WriterContext) (connector.Committer, error) {
	return newCommitter(&s.cfg, ctx)
}
